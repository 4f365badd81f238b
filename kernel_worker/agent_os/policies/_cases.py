"""Policy test cases as data: load YAML case files, judge each input, compare with what is wanted.

One runner serves ``agent-os policy test`` and the project's own
``tests/policy_cases``. A case file is either a list of cases or a mapping
``{policy: ..., cases: [...]}`` whose ``policy`` every case uses unless it
names its own. A case::

    - note: a large payment waits for a human   # unique within the file
      policy: strict                            # preset, file (relative to this one) or mapping
      capabilities: [payments]                  # optional: the caller's capabilities
      input: {action: tool_call, tool: send_money, args: {amount: 5000, recipient: X}}
      want: {decision: review, rule: "payments:review-payment"}

``want`` may hold ``decision``, ``rule``, ``signal``, ``code``, ``matched``,
``kinds`` and ``classified_by``; only the keys given are compared. A case
whose policy does not load fails with the load error; a case file with an
unknown key is a :class:`PolicyLoadError` (a typo must not skip a check).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._errors import PolicyError, PolicyLoadError, unknown_key
from ._load import load_policy
from ._policy import Policy
from ._types import Verdict

__all__ = ["CASE_KEYS", "WANT_KEYS", "Case", "CaseResult", "load_cases", "run_case", "run_cases"]

CASE_KEYS = ("note", "policy", "capabilities", "input", "want")
WANT_KEYS = ("decision", "rule", "signal", "code", "matched", "kinds", "classified_by")
_FILE_KEYS = ("policy", "cases")


@dataclass(frozen=True, slots=True)
class Case:
    """One test case: an input action and the verdict parts wanted for it."""

    file: str
    note: str
    policy: Any
    input: Any
    want: Mapping[str, Any]
    capabilities: frozenset[str] | None = None
    base_dir: str = "."

    @property
    def id(self) -> str:
        """``<file stem>: <note>``, unique across a run."""
        return f"{Path(self.file).stem}: {self.note}"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case; ``failures`` is empty when it passed."""

    case: Case
    verdict: Verdict | None
    failures: tuple[str, ...]
    explanation: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True when every wanted part matched."""
        return not self.failures

    def report(self) -> str:
        """A failure as a reader wants it: what was wanted, what came, and why."""
        lines = [f"FAIL {self.case.id}"]
        lines += [f"  {failure}" for failure in self.failures]
        lines += [f"  | {line}" for line in self.explanation]
        return "\n".join(lines)


def load_cases(paths: Iterable[str | os.PathLike[str]]) -> list[Case]:
    """Every case of the given files and directories (``*.yaml`` / ``*.yml`` in a directory)."""
    cases: list[Case] = []
    for path in paths:
        target = Path(path)
        if target.is_dir():
            files = sorted([*target.glob("*.yaml"), *target.glob("*.yml")])
        else:
            files = [target]
        for file in files:
            cases.extend(_load_file(file))
    return cases


def _load_file(file: Path) -> list[Case]:
    name = str(file)
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyLoadError(f"cannot read test cases: {exc}", file=name) from None
    file_policy: Any = "strict"
    if isinstance(document, Mapping):
        for key in document:
            if key not in _FILE_KEYS:
                raise unknown_key(key, _FILE_KEYS, file=name)
        file_policy = document.get("policy", "strict")
        document = document.get("cases")
    if not isinstance(document, list) or not document:
        raise PolicyLoadError("expected a non-empty list of cases", file=name, field="cases")
    out = []
    notes: set[str] = set()
    for index, entry in enumerate(document):
        where = f"cases[{index}]"
        if not isinstance(entry, Mapping):
            raise PolicyLoadError("a case must be a mapping", file=name, rule=where)
        for key in entry:
            if key not in CASE_KEYS:
                raise unknown_key(key, CASE_KEYS, file=name, rule=where)
        note = entry.get("note")
        if not isinstance(note, str) or not note.strip():
            raise PolicyLoadError("a case needs a 'note'", file=name, rule=where, field="note")
        if note in notes:
            raise PolicyLoadError(f"duplicate note {note!r}", file=name, rule=where, field="note")
        notes.add(note)
        if "input" not in entry:
            raise PolicyLoadError("a case needs an 'input'", file=name, rule=where, field="input")
        want = entry.get("want")
        if not isinstance(want, Mapping) or not want:
            raise PolicyLoadError("'want' must be a mapping", file=name, rule=where, field="want")
        for key in want:
            if key not in WANT_KEYS:
                raise unknown_key(key, WANT_KEYS, file=name, rule=where)
        caps = entry.get("capabilities")
        out.append(
            Case(
                file=name,
                note=note,
                policy=entry.get("policy", file_policy),
                input=entry["input"],
                want=dict(want),
                capabilities=None if caps is None else frozenset(caps),
                base_dir=str(file.parent),
            )
        )
    return out


class _Policies:
    """Policies by their spec, loaded once per run."""

    def __init__(self) -> None:
        self._cache: dict[str, Policy | PolicyError] = {}

    def get(self, case: Case) -> Policy:
        spec = case.policy
        if isinstance(spec, str) and (spec.endswith((".yaml", ".yml", ".json")) or "/" in spec):
            spec = os.path.normpath(os.path.join(case.base_dir, spec))
        key = json.dumps(spec, sort_keys=True, default=str)
        found = self._cache.get(key)
        if found is None:
            try:
                found = load_policy(spec)
            except PolicyError as exc:
                found = exc
            self._cache[key] = found
        if isinstance(found, PolicyError):
            raise found
        return found


def run_case(case: Case, policies: _Policies | None = None) -> CaseResult:
    """Judge ``case.input`` and compare; a failure carries the policy's explanation."""
    try:
        policy = (policies or _Policies()).get(case)
    except PolicyError as exc:
        return CaseResult(case, None, (f"policy does not load: {exc}",))
    verdict, story = policy.explain(case.input, capabilities=case.capabilities)
    got = {
        "decision": verdict.decision.value,
        "rule": verdict.rule,
        "signal": None if verdict.signal is None else verdict.signal.value,
        "code": verdict.code,
        "matched": verdict.matched,
        "kinds": list(verdict.kinds),
        "classified_by": verdict.classified_by,
    }
    failures = []
    for key, wanted in case.want.items():
        value = got[key]
        if key == "kinds" and isinstance(wanted, list | tuple) and isinstance(value, list):
            ok = sorted(value) == sorted(wanted)
        else:
            ok = value == wanted
        if not ok:
            failures.append(f"{key}: want {wanted!r}, got {value!r}")
    if failures:
        failures.append(f"verdict: {verdict.decision.value} {verdict.rule}: {verdict.reason}")
    return CaseResult(case, verdict, tuple(failures), tuple(story) if failures else ())


def run_cases(cases: Iterable[Case]) -> list[CaseResult]:
    """Run cases in order, loading each distinct policy once."""
    policies = _Policies()
    return [run_case(case, policies) for case in cases]
