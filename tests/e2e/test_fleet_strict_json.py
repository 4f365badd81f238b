"""Strict JSON on the wire, on real brokers: one reading of every action.

A signed action whose content names a key twice was allowed with the last
value winning (``{"args": DROP}, {"args": SELECT}`` judged as the SELECT);
``NaN`` and ``Infinity`` were read as numbers. Each is now a deny with its
own code, and a verdict in such JSON is not accepted by the client.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_support import fleet

from agent_os.kernel_worker import Decision
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))

CASES = [
    (
        b'{"action":"sql","args":{"query":"DROP TABLE a"},"args":{"query":"SELECT 1"}}',
        "duplicate_key",
    ),
    (b'{"action":"sql","args":{"query":"DROP TABLE a","query":"SELECT 1"}}', "duplicate_key"),
    (b'{"action":"file_read","args":{"path":"/srv/a","n":NaN}}', "non_finite_number"),
    (b'{"action":"file_read","args":{"path":"/srv/a","n":Infinity}}', "non_finite_number"),
    (b'{"action":"file_read","args":{"path":"/srv/a","n":-Infinity}}', "non_finite_number"),
    (b'{"action":"file_read","args":{"path":"/srv/a","n":1e999}}', "non_finite_number"),
    (b'{"action":"file_read","args":{"path":"/srv/a"', "malformed_action"),
]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_ambiguous_action_content_is_denied_with_a_stable_code(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        await f.start_worker()
        # The same action in plain JSON is allowed: the deny is the strictness. (The
        # ambiguous ones sign no reply subject: content that does not parse is refused
        # for what it is, before any question of where its answer goes.)
        plain = await f.send_raw(await f.request({"action": "sql", "args": {"query": "SELECT 1"}}))
        assert plain.decision is Decision.ALLOW
        got = [(await f.send_raw(f.signed(content))).code for content, _ in CASES]
        assert got == [code for _, code in CASES]
