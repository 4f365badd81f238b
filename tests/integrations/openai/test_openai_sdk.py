"""The plain openai SDK governed: Responses and Chat Completions loops, Assistants runs.

The real ``openai`` client (sync and async) talks HTTP to a local
OpenAI-compatible server (``tests/servers/openai_api.py``) whose scripted
model asks for tool calls; nothing of the client is mocked. The functions
record their calls, so "never ran" is observed.
"""

from __future__ import annotations

import asyncio
import types
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from agent_os.integrations import AssistantsUnavailable, OpenAIKernel, TooManyTurns
from agent_os.kernel_worker import CallbackApprover, KernelSpace, PolicyViolation, ReviewRequest
from tests.integrations.support import (
    DANGEROUS,
    HARMLESS,
    HELD,
    integration_policy,
    remote_kernel,
    unreachable_kernel,
)
from tests.integrations.threaded import FailingAudit, on_thread
from tests.servers import Servers
from tests.servers.openai_api import FakeOpenAI, serve

APIS = ("sync", "async")
DELETE = ("delete_file", {"file_path": "/etc/passwd"})
TOOLS = [
    {"type": "function", "name": name, "parameters": {"type": "object"}}
    for name in ("terminal", "search", "release", "delete_file")
]


class Functions:
    """The user's functions; ``ran`` is what really executed."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

    def terminal(self, commands: str) -> str:
        self.ran.append(("terminal", {"commands": commands}))
        return f"ran {commands}"

    async def search(self, query: str) -> str:  # an async function: the async loops await it
        self.ran.append(("search", {"query": query}))
        return "sunny, 21 degrees"

    def release(self, target: str) -> dict[str, str]:
        self.ran.append(("release", {"target": target}))
        return {"released": target}

    def delete_file(self, file_path: str) -> str:
        self.ran.append(("delete_file", {"file_path": file_path}))
        return f"deleted {file_path}"

    def table(self, api: str) -> dict[str, Callable[..., Any]]:
        search: Callable[..., Any] = self.search
        if api == "sync":

            def search(query: str) -> str:
                self.ran.append(("search", {"query": query}))
                return "sunny, 21 degrees"

        return {
            "terminal": self.terminal,
            "search": search,
            "release": self.release,
            "delete_file": self.delete_file,
        }


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with serve() as state:
        yield state


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def with_client(
    server: FakeOpenAI,
    api: str,
    sync: Callable[[openai.OpenAI], Any],
    async_: Callable[[openai.AsyncOpenAI], Awaitable[Any]],
) -> Any:
    if api == "sync":
        with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            return sync(client)

    async def go() -> Any:
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key="sk-test", max_retries=0
        ) as client:
            return await async_(client)

    return asyncio.run(go())


def responses(server: FakeOpenAI, api: str, kernel: OpenAIKernel, fns: Functions) -> str:
    table = fns.table(api)
    request = {"model": "fake", "input": "do the job", "tools": TOOLS}
    response = with_client(
        server,
        api,
        lambda c: kernel.run_responses(c, functions=table, **request),
        lambda c: kernel.arun_responses(c, functions=table, **request),
    )
    return str(response.output_text)


def chat(server: FakeOpenAI, api: str, kernel: OpenAIKernel, fns: Functions) -> str:
    table = fns.table(api)
    request = {"model": "fake", "messages": "do the job", "tools": TOOLS}
    completion = with_client(
        server,
        api,
        lambda c: kernel.run_chat(c, functions=table, **request),
        lambda c: kernel.arun_chat(c, functions=table, **request),
    )
    return str(completion.choices[0].message.content)


def setup_assistant(client: openai.OpenAI) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assistant = client.beta.assistants.create(model="fake", name="ops")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    return assistant, thread


def last_message(client: openai.OpenAI, thread_id: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return str(
            client.beta.threads.messages.list(thread_id=thread_id).data[0].content[0].text.value
        )


def assistant_run(server: FakeOpenAI, api: str, kernel: OpenAIKernel, fns: Functions) -> str:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as setup:
        assistant, thread = setup_assistant(setup)

        def sync(client: openai.OpenAI) -> Any:
            return kernel.wrap_assistant(assistant, client).run(thread.id, functions=fns.table(api))

        async def async_(client: openai.AsyncOpenAI) -> Any:
            governed = kernel.wrap_assistant(assistant, client)
            return await governed.run(thread.id, functions=fns.table(api))  # type: ignore[misc]

        run = with_client(server, api, sync, async_)
        assert run.status == "completed"
        return last_message(setup, thread.id)


LOOPS = {"responses": responses, "chat": chat, "assistants": assistant_run}


@pytest.fixture(params=sorted(LOOPS))
def loop(request: pytest.FixtureRequest) -> Callable[..., str]:
    return LOOPS[str(request.param)]


def test_seed_spelling_verbatim(server: FakeOpenAI) -> None:
    server.script = [[DANGEROUS, HARMLESS]]
    fns = Functions()
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        assistant, thread = setup_assistant(client)

        from agent_os.integrations import OpenAIKernel

        governed = OpenAIKernel().wrap_assistant(assistant, client)
        run = governed.run(thread.id, functions=fns.table("sync"))

        assert run.status == "completed"
        text = last_message(client, thread.id)
    assert fns.ran == [HARMLESS]
    assert "Tool call 'terminal' was blocked by policy 'strict'" in text
    assert "sunny, 21 degrees" in text


@pytest.mark.parametrize("call", [DANGEROUS, DELETE], ids=["rm-rf", "delete_file"])
def test_dangerous_call_never_reaches_the_function(
    server: FakeOpenAI, api: str, loop: Callable[..., str], call: tuple[str, Any]
) -> None:
    server.script = [[call], [HARMLESS]]
    fns = Functions()

    text = loop(server, api, OpenAIKernel(), fns)

    assert fns.ran == [HARMLESS]
    assert text.startswith(f"done: Tool call '{call[0]}' was blocked by policy 'strict'")
    assert text.endswith("| sunny, 21 degrees")


def test_allowed_call_returns_its_value(
    server: FakeOpenAI, api: str, loop: Callable[..., str]
) -> None:
    server.script = [[HELD]]
    fns = Functions()

    text = loop(server, api, OpenAIKernel("strict"), fns)

    assert fns.ran == [HELD]
    assert text == 'done: {"released": "deploy to production"}'


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_sigstop_runs_only_after_approval(
    server: FakeOpenAI, api: str, loop: Callable[..., str], approve: bool
) -> None:
    server.script = [[HELD]]
    fns = Functions()
    asked: list[tuple[ReviewRequest, int]] = []

    def reviewer(request: ReviewRequest) -> bool:
        asked.append((request, len(fns.ran)))
        return approve

    kernel = OpenAIKernel(integration_policy(), approver=CallbackApprover(reviewer))
    text = loop(server, api, kernel, fns)

    ((request, ran_before),) = asked
    assert (request.action["tool"], request.action["args"], ran_before) == ("release", HELD[1], 0)
    assert fns.ran == ([HELD] if approve else [])
    assert ("review_denied" in text) is not approve


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_remote_sigstop_runs_only_after_the_kernels_reviewer_approves(
    server: FakeOpenAI,
    api: str,
    loop: Callable[..., str],
    approve: bool,
    servers: Servers,
    tmp_path: Path,
) -> None:
    server.script = [[HELD]]
    fns = Functions()
    with on_thread(remote_kernel(servers.get("nats").url, review=tmp_path)) as (remote, bus_loop):
        # The call waits on the kernel's durable review while a reviewer decides.
        reviewed = asyncio.run_coroutine_threadsafe(remote.decide(approve), bus_loop)
        text = loop(server, api, OpenAIKernel(remote.client, loop=bus_loop), fns)
        assert reviewed.result(30).status.value == ("approved" if approve else "denied")

    assert fns.ran == ([HELD] if approve else [])
    assert ("review_denied" in text) is not approve


def test_unreachable_kernel_denies(server: FakeOpenAI, api: str, loop: Callable[..., str]) -> None:
    server.script = [[HARMLESS]]
    fns = Functions()
    with on_thread(unreachable_kernel()) as (client, bus_loop):
        text = loop(server, api, OpenAIKernel(client, loop=bus_loop), fns)

    assert fns.ran == []
    assert "Tool call 'search' was blocked (no_responders" in text


def test_exception_inside_the_integration_denies(
    server: FakeOpenAI, api: str, loop: Callable[..., str]
) -> None:
    server.script = [[HARMLESS]]
    fns = Functions()

    text = loop(server, api, OpenAIKernel(KernelSpace("strict", audit=FailingAudit())), fns)

    assert fns.ran == []
    assert "integration_error" in text


def test_malformed_arguments_are_judged_as_text_and_never_run(server: FakeOpenAI, api: str) -> None:
    server.script = [[("terminal", "rm -rf / {")], [("search", "{not json")]]
    fns = Functions()

    text = responses(server, api, OpenAIKernel(), fns)

    assert fns.ran == []
    assert "rule shell:rm-rf" in text
    assert text.endswith("| The arguments are not valid JSON.")


def test_on_deny_raise_cancels_the_assistant_run(server: FakeOpenAI) -> None:
    server.script = [[HARMLESS, DANGEROUS]]
    fns = Functions()
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        assistant, thread = setup_assistant(client)
        governed = OpenAIKernel(on_deny="raise").wrap_assistant(assistant, client)
        with pytest.raises(PolicyViolation) as caught:
            governed.run(thread.id, functions=fns.table("sync"))

    assert caught.value.verdict.rule == "shell:rm-rf"
    assert fns.ran == [HARMLESS]  # the allowed call before it ran; the refused one did not
    (run,) = [r for r in server.runs.values() if r.thread_id == thread.id]
    assert run.status == "cancelled"


def test_a_failing_function_cancels_the_assistant_run(server: FakeOpenAI, api: str) -> None:
    server.script = [[HARMLESS]]

    def search(query: str) -> str:
        raise RuntimeError("search backend down")

    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as setup:
        assistant, thread = setup_assistant(setup)
    kernel = OpenAIKernel()
    with pytest.raises(RuntimeError, match="search backend down"):
        with_client(
            server,
            api,
            lambda c: kernel.wrap_assistant(assistant, c).run(thread.id, functions=[search]),
            lambda c: kernel.wrap_assistant(assistant, c).run(thread.id, functions=[search]),
        )
    (run,) = [r for r in server.runs.values() if r.thread_id == thread.id]
    assert run.status == "cancelled"


def test_a_model_that_never_stops_calling_is_cut_off(server: FakeOpenAI, api: str) -> None:
    server.script = [[HARMLESS]] * 5
    kernel = OpenAIKernel()
    table = Functions().table(api)
    with pytest.raises(TooManyTurns):
        with_client(
            server,
            api,
            lambda c: kernel.run_chat(c, functions=table, model="m", messages="x", max_turns=3),
            lambda c: kernel.arun_chat(c, functions=table, model="m", messages="x", max_turns=3),
        )


def test_your_own_loop_can_govern_each_call(server: FakeOpenAI) -> None:
    server.script = [[DANGEROUS, HARMLESS]]
    fns = Functions()
    kernel = OpenAIKernel()
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        completion = client.chat.completions.create(model="m", messages=[])
        calls = completion.choices[0].message.tool_calls or []
        outputs = [
            kernel.call_function(fns.table("sync"), c.function.name, c.function.arguments)
            for c in calls
            if c.type == "function"
        ]
    assert fns.ran == [HARMLESS]
    assert outputs[0].startswith("Tool call 'terminal' was blocked")
    assert outputs[1] == "sunny, 21 degrees"


def test_an_sdk_without_the_assistants_api_explains_the_retirement() -> None:
    client = types.SimpleNamespace(beta=types.SimpleNamespace(chatkit=object()))
    with pytest.raises(AssistantsUnavailable) as caught:
        OpenAIKernel().wrap_assistant("asst_1", client)
    message = str(caught.value)
    assert "2026-08-26" in message and "Responses API" in message
    assert caught.value.code == "assistants_unavailable"
