"""The strict preset's content patterns: (rule id, RE2 regex, reason), and the fields each reads.

They live beside the analysers because redaction (``_re``) reuses the secret
ones. :data:`CONTENT_PATTERNS` are the regex rules strict runs; each reads
only the argument fields whose meaning it fits (:data:`PATTERN_FIELDS`): shell
shapes read ``command`` fields and ``data`` fields (meaning unknown: fail
closed), so a search query or a prompt that talks about ``rm -rf`` (``prose``)
meets none of them, and neither does a string in code (``DANGEROUS = ['rm -rf
/']``): the code checks read code, and a notebook's shell escapes (``!curl ...
| sh``) are read as commands. A credential file's path is read in code too
(``open('/home/u/.ssh/id_rsa')``). SQL is the token
analyser's (``_sql``), which reads ``WHERE a = 'DROP TABLE'`` as data; the SQL
regexes (:data:`SQL_PATTERNS`) are its cheap path past budget. :data:`SECRET_PATTERNS` are
the secret catalogue's regexes (``_secrets_rules``): strict detects secrets
with the ``secrets`` checks (catalogue plus entropy, context and decoding),
and redaction masks any span these regexes match. Code execution is the
``code`` checks' business (``_code``: string literals are data there).
"""

from __future__ import annotations

from collections.abc import Mapping

from ._secrets_rules import RULES

__all__ = [
    "CONTENT_PATTERNS",
    "PATTERN_FIELDS",
    "SECRET_PATTERNS",
    "SQL_PATTERNS",
    "STRICT_PATTERNS",
]

_IDENT = r"[\w.$`\[\]]+"

#: Destructive SQL shapes as regexes: the SQL analyser's cheap path past its token
#: budget (``_sql``). Strict does not run them itself: over text under budget the
#: token analysis is exact and reads string literals as data.
SQL_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (
        "sql:drop",
        r"\bdrop ?(?:table|database|schema|view|materialized ?view|index|user|role|function"
        r"|procedure|trigger|sequence|tablespace|extension|owned|warehouse|stage|stream|pipe"
        r"|task|share|integration|catalog)\b",
        "destructive SQL: DROP",
    ),
    (
        "sql:delete",
        rf"(?m)\bdelete ?from ?{_IDENT}(?: ?(?:;|$|where\b|returning\b|using\b|limit\b)"
        rf"| (?:as )?\w+ where\b)",
        "destructive SQL: DELETE",
    ),
    (
        "sql:truncate",
        rf"(?m)\btruncate ?table\b|(?:^|;) ?truncate {_IDENT} ?(?:;|$|cascade\b|restart\b)",
        "destructive SQL: TRUNCATE",
    ),
    ("sql:alter-drop", r"\balter ?table\b[^;\x00]*\bdrop\b", "destructive SQL: ALTER ... DROP"),
)

CONTENT_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # Shell.
    (
        "shell:rm-rf",
        r"\brm (?:-[\w-]+ )*(?:-[a-z]*r[a-z]*|--recursive)\b",
        "recursive file deletion (rm -r)",
    ),
    (
        "shell:pipe-to-shell",
        r"\b(?:curl|wget)\b[^\n|]*\| ?(?:sudo )?(?:ba|z|da|k|fi)?sh\b",
        "downloaded script piped into a shell",
    ),
    ("shell:mkfs", r"\bmkfs(?:\.\w+)?\b", "filesystem format (mkfs)"),
    ("shell:dd-device", r"\bdd\b[^\n]*\bof=/dev/", "raw write to a device (dd of=/dev/...)"),
    ("shell:fork-bomb", r": ?\( ?\) ?\{ ?: ?\| ?: ?& ?\} ?; ?:", "fork bomb"),
    # Paths to credential files, in any field that acts (a path may hide in a command, a
    # URL, SQL or data of unknown meaning); prose that only names one does not act.
    (
        "secret:credential-file",
        r"/etc/shadow\b|\.ssh/id_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws/credentials\b",
        "credential file access",
    ),
)

#: Rule id -> the field groups it reads (absent: every field).
PATTERN_FIELDS: Mapping[str, tuple[str, ...]] = {
    **{
        rule_id: ("command", "data")
        for rule_id, _, _ in CONTENT_PATTERNS
        if rule_id.startswith("shell:")
    },
    # In a command the shell analyser judges a recursive rm by what it removes (a build's
    # output is cleanup: rm -rf ./dist node_modules); text of unknown meaning has no such
    # reading, so there any rm -r counts.
    "shell:rm-rf": ("data",),
    # Not ``path``: a path field is the path rules' (canonicalised: ``/etc/./shadow``,
    # ``C:\\Users\\...``, every home), whose globs hold these files too.
    "secret:credential-file": ("command", "code", "data", "url", "sql"),
}

#: The secret catalogue's regexes (one per rule), for redaction.
SECRET_PATTERNS: tuple[tuple[str, str, str], ...] = tuple(
    (rule.id, rule.regex, rule.reason) for rule in RULES
)

#: Every pattern: what strict runs plus the secret regexes redaction masks.
STRICT_PATTERNS: tuple[tuple[str, str, str], ...] = CONTENT_PATTERNS + SECRET_PATTERNS
