"""Generated pathological actions up to the 64 KB request limit, and the worst cost among them.

Each family grows an input that once made an analyser superlinear or made it
do much work per byte: deep ``CASE`` arms, long ``MERGE`` statements, batches
of ``UPDATE``, nested ``$()``, long prose full of keywords, thousands of tiny
fields, secret-like and encoded soup, literal-heavy code; and, sized just under
the SQL and shell analysers' own budgets (fresh each time), keywords sharing one
statement (nested ``UPDATE``, ``COPY``, ``EXEC``) and parameter or brace
expansion bombs. Every input is
evaluated as a typed action and as the framework tool call an agent would
send, at several sizes; the figure per input is the median of a few
evaluations timed in thread CPU time (the CPU one worker spends on the
verdict, unaffected by other processes on a shared machine). Budget: no
action up to 64 KB costs more than 5 ms.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

LIMIT = 64 * 1024
BUDGET_US = 5_000.0
Action = dict[str, Any]


def _fit(make: Callable[[int], str], size: int) -> str:
    """The longest ``make(n)`` whose text stays within ``size`` bytes."""
    n = 1
    while len(make(n * 2).encode()) <= size:
        n *= 2
    lo, hi = n, n * 2
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if len(make(mid).encode()) <= size:
            lo = mid
        else:
            hi = mid
    return make(lo)


def _typed(kind: str, **args: Any) -> Action:
    return {"agent_id": "a", "action": kind, "args": args}


def _tool(name: str, **args: Any) -> Action:
    return {"agent_id": "a", "action": "tool_call", "tool": name, "args": args}


def _sql(text: str) -> Iterator[tuple[str, Action]]:
    yield "typed sql", _typed("sql", query=text)
    yield "sql_db_query", _tool("sql_db_query", query=text)


def _shell(text: str) -> Iterator[tuple[str, Action]]:
    yield "typed shell_exec", _typed("shell_exec", command=text)
    yield "terminal", _tool("terminal", commands=[text])


def _prose(text: str) -> Iterator[tuple[str, Action]]:
    yield "typed llm_call", _typed("llm_call", prompt=text)
    yield "tavily_search", _tool("tavily_search_results_json", query=text)
    yield "unknown tool", _tool("x", v=text)


def _code(text: str) -> Iterator[tuple[str, Action]]:
    yield "typed code_exec", _typed("code_exec", language="python", code=text)
    yield "Python_REPL", _tool("Python_REPL", query=text)


def _case(n: int) -> str:
    arms = " ".join(f"WHEN id = {i} THEN 'v{i}'" for i in range(n))
    return f"UPDATE accounts SET tier = CASE {arms} ELSE tier END WHERE id < {n};"


def _merge(n: int) -> str:
    arms = " ".join(f"WHEN MATCHED AND s.k = {i} THEN UPDATE SET t.v{i} = s.v{i}" for i in range(n))
    tail = "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id);"
    return f"MERGE INTO t USING s ON t.id = s.id {arms} {tail}"


def _nested(n: int) -> str:
    return "echo " + "$(echo " * n + "x" + ")" * n


_KEYWORDS = "please update the doc, delete stale notes, drop the old plan and grant access; "
_SECRETISH = (
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.c2lnbmF0dXJl AKIA0000000000000000 sk-" + "a" * 20 + " "
)

FAMILIES: dict[str, tuple[Callable[[int], str], Callable[[str], Iterator[tuple[str, Action]]]]] = {
    "deep CASE (UPDATE)": (_case, _sql),
    "long MERGE": (_merge, _sql),
    "batch of UPDATE ... WHERE id =": (
        lambda n: " ".join(f"UPDATE t SET v = {i} WHERE id = {i};" for i in range(n)),
        _sql,
    ),
    "SELECT with many string literals": (
        lambda n: (
            "SELECT * FROM t WHERE a IN (" + ",".join(f"'DROP TABLE {i}'" for i in range(n)) + ")"
        ),
        _sql,
    ),
    "nested $()": (_nested, _shell),
    "long pipeline": (lambda n: " | ".join(["grep -v x"] * n), _shell),
    "many commands": (lambda n: "; ".join(f"echo {i}" for i in range(n)), _shell),
    "long prose with keywords": (lambda n: _KEYWORDS * n, _prose),
    "secret-like soup": (lambda n: _SECRETISH * n, _prose),
    "base64 soup": (
        lambda n: " ".join(
            base64.b64encode(f"line {i} of text".encode()).decode() for i in range(n)
        ),
        _prose,
    ),
    "python with many literals": (
        lambda n: "\n".join(f"x{i} = 'os.system({i})' + \"eval\"" for i in range(n)),
        _code,
    ),
}


def _tiny_fields(size: int) -> Iterator[tuple[str, str, Action]]:
    fields = {f"k{i}": "v" for i in range(size // 12)}
    url = "https://api.example.com/x"
    yield (
        "many tiny fields",
        "typed http_request",
        _typed("http_request", method="POST", url=url, json=fields),
    )
    yield "many tiny fields", "requests_post", _tool("requests_post", url=url, data=fields)
    yield "many tiny list items", "unknown tool", _tool("x", items=["a"] * (size // 6))


def inputs(
    sizes: tuple[int, ...] = (1024, 16 * 1024, LIMIT - 512),
) -> Iterator[tuple[str, str, int, Action]]:
    """(family, channel, JSON size, action) for every generated input."""
    for size in sizes:
        for family, (make, channels) in FAMILIES.items():
            text = _fit(make, size)
            for channel, action in channels(text):
                yield family, channel, len(json.dumps(action)), action
        for family, channel, action in _tiny_fields(size):
            yield family, channel, len(json.dumps(action)), action


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_URLSAFE = _ALNUM.lower() + "-_"


def _rand(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _nested_b64(rng: random.Random) -> str:
    data = (_rand(rng, 8) + "A" * 1950).encode()
    for _ in range(12):
        data = base64.b64encode(data)
    return data.decode()


def _expanding(rng: random.Random, char: str) -> str:
    """A random tag, then as many ``char`` as 64 KB holds (U+FDFA is 18 characters under NFKC)."""
    return _rand(rng, 8) + char * ((LIMIT - 1024) // len(char.encode()))


def _sql_at_budget(rng: random.Random, make: Callable[[int], str]) -> Action:
    head = f"SELECT {rng.randint(0, 10**9)}; "
    return _typed("sql", query=head + _fit(make, 8_000 - len(head)))


def _shell_at_budget(rng: random.Random, make: Callable[[int], str]) -> Action:
    head = f"echo {rng.randint(0, 10**9)}; "
    return _tool("Bash", command=head + _fit(make, 2_000 - len(head)))


_BIG = LIMIT - 600
#: Families whose every timing gets a fresh random input: an analyser's cache (or RE2's
#: DFA state cache) makes a repeated input far cheaper than a new one.
RANDOM_FAMILIES: dict[str, Callable[[random.Random], Action]] = {
    "random text, typed http_request body": lambda r: _typed(
        "http_request", url="https://a.example/", method="POST", body=_rand(r, _BIG)
    ),
    "random text, send_message": lambda r: _tool(
        "send_message", channel="x", message=_rand(r, _BIG)
    ),
    "random text, SQL literal": lambda r: _typed("sql", query=f"SELECT '{_rand(r, _BIG)}'"),
    "random text, URL query": lambda r: _typed(
        "http_request", url="https://a.example/?q=" + _rand(r, _BIG)
    ),
    "random text, Bash echo": lambda r: _tool("Bash", command="echo " + _rand(r, _BIG)),
    "random token sk-...": lambda r: _tool(
        "send_message", channel="x", message="sk-" + _rand(r, _BIG, _URLSAFE)
    ),
    "975 random fields": lambda r: _tool(
        "custom_tool", **{f"k{i}": _rand(r, 55) for i in range(975)}
    ),
    "3300 random tiny fields": lambda r: _tool(
        "custom_tool", **{f"p{i}": _rand(r, 6) for i in range(3300)}
    ),
    "2000 random list items": lambda r: _tool(
        "custom_tool", items=[_rand(r, 25) for _ in range(2000)]
    ),
    "2500 command fields": lambda r: _tool(
        "custom_tool", **{f"command{i}": "ls " + _rand(r, 4) for i in range(2500)}
    ),
    "2000 SQL fields": lambda r: _tool(
        "custom_tool", **{f"sql{i}": "DELETE FROM t" + _rand(r, 4) for i in range(2000)}
    ),
    "2300 argv lists": lambda r: _tool(
        "custom_tool", a=[["rm", "-rf", _rand(r, 8)] for _ in range(2300)]
    ),
    "random bytes as base64": lambda r: _tool(
        "send_message", channel="x", message=base64.b64encode(r.randbytes(48_000)).decode()
    ),
    "12-fold nested base64": lambda r: _tool("send_message", channel="x", message=_nested_b64(r)),
    "U+FDFA in SQL": lambda r: _typed("sql", query=f"SELECT '{_expanding(r, chr(0xFDFA))}'"),
    "U+FDFA in Python": lambda r: _tool(
        "python_repl_ast", query=f"x='{_expanding(r, chr(0xFDFA))}'"
    ),
    "U+FDFA in a path": lambda r: _typed("file_read", path="/" + _expanding(r, chr(0xFDFA))),
    "U+FDFA in a shell command": lambda r: _tool(
        "Bash", command="echo " + _expanding(r, chr(0xFDFA))
    ),
    "U+FDFA in a message": lambda r: _tool(
        "send_message", channel="x", message=_expanding(r, chr(0xFDFA))
    ),
    "squared katakana in SQL": lambda r: _typed(
        "sql", query=f"SELECT '{_expanding(r, chr(0x3316))}'"
    ),
    "%2e%2e/ in a path": lambda r: _tool(
        "read_file", path=_rand(r, 8) + "/" + "%2e%2e/" * 9300 + "x"
    ),
    "%25 in a message": lambda r: _tool(
        "send_message", channel="x", message=_rand(r, 8) + "%25" * 21000 + "41"
    ),
    "/**/ in SQL": lambda r: _typed("sql", query=f"SELECT {r.randint(0, 10**9)} " + "/**/" * 16000),
    # Sized just under the SQL analyser's own budget (8 KB), where its full analysis
    # still runs: many keywords sharing one statement.
    "nested UPDATE ... = (": lambda r: _sql_at_budget(r, lambda n: "UPDATE t SET a = (" * n),
    "UPDATEs sharing one WHERE": lambda r: _sql_at_budget(
        r, lambda n: "UPDATE t SET a = (" * n + "WHERE " + "1 = 1 AND " * n
    ),
    ";COPY t ( to": lambda r: _sql_at_budget(r, lambda n: ";COPY t ( to" * n),
    "DROP TABLE a, ...": lambda r: _sql_at_budget(r, lambda n: "DROP TABLE a, " * n),
    "EXEC(EXEC(...": lambda r: _sql_at_budget(r, lambda n: "EXEC(" * n),
    "EXEC('DR' + 'OP ...') batch": lambda r: _sql_at_budget(
        r, lambda n: "EXEC('DR' + 'OP TABLE t'); " * n
    ),
    "GRANT with many privileges": lambda r: _sql_at_budget(
        r, lambda n: "GRANT " + "SELECT, UPDATE, DELETE, " * n + " ON t TO u"
    ),
    # Sized just under the shell analyser's (2 KB): expansion bombs.
    "$x of many words, many times": lambda r: _shell_at_budget(
        r, lambda n: "x='" + "a " * n + "'; echo " + "$x " * n
    ),
    "{$x,$x} brace expansion": lambda r: _shell_at_budget(
        r, lambda n: "x='a b c d'; echo " + "{$x,$x}" * n
    ),
    "env env env ...": lambda r: _shell_at_budget(r, lambda n: "env " * n + "x"),
    "{a,b}{a,b}...": lambda r: _shell_at_budget(r, lambda n: "echo " + "{a,b}" * n),
}


def _row(family: str, channel: str, size: int, times: list[float], verdict: Any) -> dict[str, Any]:
    return {
        "family": family,
        "channel": channel,
        "bytes": size,
        "us": round(statistics.median(times), 1),
        "decision": getattr(getattr(verdict, "decision", None), "value", None),
        "rule": getattr(verdict, "rule", None),
    }


def worst_case(evaluate: Callable[[Action], Any], repeats: int = 3) -> list[dict[str, Any]]:
    """Every input's median cost in microseconds, worst first."""
    rows = []
    rng = random.Random(0)
    for family, make in RANDOM_FAMILIES.items():
        times, size, verdict = [], 0, None
        for _ in range(repeats):
            action = make(rng)  # fresh every time: nothing cached can answer it
            size = max(size, len(json.dumps(action, ensure_ascii=False).encode()))
            start = time.thread_time_ns()
            verdict = evaluate(action)
            times.append((time.thread_time_ns() - start) / 1000.0)
        if size <= LIMIT:
            rows.append(_row(family, "fresh random", size, times, verdict))
    for family, channel, size, action in inputs():
        if size > LIMIT:
            continue
        evaluate(action)  # first call fills caches the way a worker's first request would
        times = []
        verdict = None
        for _ in range(repeats):
            start = time.thread_time_ns()
            verdict = evaluate(action)
            times.append((time.thread_time_ns() - start) / 1000.0)
        rows.append(_row(family, channel, size, times, verdict))
    rows.sort(key=lambda row: -row["us"])
    return rows
