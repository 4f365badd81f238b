"""The governed path on every backend: an agent's ``@governed`` calls judged by one worker.

One test per backend (the setup is the ``governed`` fixture, parametrised by
backend) walks the four outcomes an agent meets: an allow that runs the call,
a policy deny, a SIGSTOP review nobody answers, and a replayed request.
"""

from __future__ import annotations

import dataclasses

import pytest
from e2e_support import Governed

from agent_os.adapters import governed as governed_fn
from agent_os.bus import new_id
from agent_os.kernel_worker import Decision, PolicyViolation, action_content
from tests.eventually import eventually
from tests.servers import selected_backends


@pytest.mark.parametrize("governed", selected_backends(), indirect=True)
async def test_allow_deny_review_timeout_and_replay(governed: Governed) -> None:
    ran: list[str] = []

    @governed_fn(governed.client, action="file_read")
    async def read(path: str) -> str:
        ran.append(path)
        return f"read {path}"

    @governed_fn(governed.client, action="sql")
    async def query(query: str) -> None:
        ran.append(query)

    @governed_fn(governed.client, action="deploy")
    async def deploy(target: str) -> None:
        ran.append(target)

    assert await read("/srv/README.md") == "read /srv/README.md"

    with pytest.raises(PolicyViolation) as denied:
        await query("DROP TABLE users")
    assert denied.value.verdict.code == "policy_violation"
    assert denied.value.verdict.rule == "sql:drop"

    with pytest.raises(PolicyViolation) as held:
        await deploy("prod")
    assert held.value.verdict.code == "review_timeout"
    assert held.value.verdict.kernel_id == "kernel-1"

    request = await governed.fleet.request(action_content("file_read", {"path": "/srv/a"}))
    assert (await governed.fleet.send_raw(request)).decision is Decision.ALLOW
    # Whoever read the bytes publishes them again, in an envelope of its own (JetStream drops
    # a re-sent envelope id): a replay, denied where the agent signed (the audit shows it).
    await governed.bus.publish(dataclasses.replace(request, id=new_id()))

    assert ran == ["/srv/README.md"]
    # The worker records its audit event after it answers: wait for the sixth.
    events = await eventually(
        lambda: len(governed.audit.events) >= 6 and governed.audit.events, 10.0, "six audit events"
    )
    assert [(e.action, e.decision) for e in events] == [
        ("file_read", "allow"),
        ("sql", "deny"),
        ("deploy", "review"),  # held, then denied when nobody answered
        ("deploy", "deny"),
        ("file_read", "allow"),
        ("?", "deny"),  # the replay is refused before its content is read
    ]
    assert events[-1].code == "replay"
