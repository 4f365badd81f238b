"""Content analysis behind the policy engine: normalisation, RE2, SQL, shell, paths, network.

Pure, synchronous code: each analyser takes text and returns findings.
"""

from ._net import normalise_domain
from ._normalise import flatten, fold
from ._re import compile_pattern, redact
from ._shell import analyse_shell
from ._sql import analyse_sql

__all__ = [
    "analyse_shell",
    "analyse_sql",
    "compile_pattern",
    "flatten",
    "fold",
    "normalise_domain",
    "redact",
]
