"""Policies: the model, the builder, the YAML loader, presets and the engine that judges.

``from agent_os.policies import Policy, Pattern`` is the seed's spelling.
Pure, synchronous code: nothing here does I/O except reading policy files
(and a policy's ``data`` file, re-read when it changes). Tool calls are
governed by a policy's ``tools`` section (:class:`Tools`, :class:`ToolRule`)
with CEL conditions.
"""

from ._errors import PolicyError, PolicyLoadError, PolicyViolation, UnknownPolicy
from ._load import load_policies, load_policy, presets
from ._policy import Policy
from ._rules import Check, CommandRule, NetworkRule, PathRule
from ._terms import ReviewTerms, parse_duration
from ._tools import ToolRule, Tools
from ._types import ActionRule, Decision, Pattern, Signal, Verdict

__all__ = [
    "ActionRule",
    "Check",
    "CommandRule",
    "Decision",
    "NetworkRule",
    "PathRule",
    "Pattern",
    "Policy",
    "PolicyError",
    "PolicyLoadError",
    "PolicyViolation",
    "ReviewTerms",
    "Signal",
    "ToolRule",
    "Tools",
    "UnknownPolicy",
    "Verdict",
    "load_policies",
    "load_policy",
    "parse_duration",
    "presets",
]
