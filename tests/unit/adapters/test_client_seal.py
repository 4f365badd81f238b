"""KernelClient.seal / unseal: state an agent hands out comes back only as it sealed it."""

from __future__ import annotations

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.trust import AgentIdentity


async def test_only_this_agents_untouched_token_unseals() -> None:
    bus = await connect("memory://seal")
    kernel = AgentIdentity.create("kernel-1")
    agent = AgentIdentity.create("agent-1")
    client = KernelClient(bus, agent, [kernel.public()])
    content = {"ticket": "t-1", "call": "abc"}
    token = client.seal(content)
    assert client.unseal(token) == content
    # The same agent in another process: its key is what verifies.
    assert KernelClient(bus, agent, [kernel.public()]).unseal(token) == content
    other = KernelClient(bus, AgentIdentity.create("agent-2"), [kernel.public()])
    assert other.unseal(token) is None
    forged = other.seal({"ticket": "t-2", "call": "abc"})
    body, _, signature = token.partition(".")
    assert client.unseal(f"{forged.partition('.')[0]}.{signature}") is None
    assert client.unseal(f"{body}.{forged.partition('.')[2]}") is None
    for junk in (None, 3, "", "x", "a.b.c", "!!.??", f"{body}."):
        assert client.unseal(junk) is None
    await bus.close()
