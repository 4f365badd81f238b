"""A deterministic OpenAI-compatible HTTP server for the openai SDK tests.

It speaks the parts of the API a function-calling program uses: Responses
(``POST /v1/responses``), Chat Completions (``POST /v1/chat/completions``) and
the Assistants API (assistants, threads, messages, runs,
``submit_tool_outputs``). The "model" behind every endpoint is a script: a
list of turns, each turn a list of tool calls ``(name, arguments)``. A
conversation that has answered ``n`` turns gets turn ``n`` next; once the
script is exhausted the model answers with text listing every tool output it
was given, so a test can read exactly what reached the model.

Arguments are sent as written: a dict is JSON-encoded, a string is sent raw
(a test can hand the client malformed JSON, as a real model sometimes does).

The server runs in a thread of the test process on a free loopback port
(``ThreadingHTTPServer``); the real ``openai`` client talks to it over HTTP.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ToolCall = tuple[str, dict[str, Any] | str]
Script = Sequence[Sequence[ToolCall]]

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


def _arguments(args: dict[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(args)


def final_text(outputs: Sequence[str]) -> str:
    """What the scripted model says once its script is done."""
    return "done: " + " | ".join(outputs)


@dataclass
class _Run:
    id: str
    thread_id: str
    assistant_id: str
    turn: int = 0
    status: str = "queued"
    pending: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    created_at: int = field(default_factory=lambda: int(time.time()))


@dataclass
class FakeOpenAI:
    """The server's state. ``script`` may be replaced between tests."""

    script: Script = ()
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    assistants: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[str, _Run] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    # -- the scripted model ------------------------------------------------------

    def _turn(self, n: int) -> list[tuple[str, str, str]] | None:
        """Tool calls of turn ``n`` as ``(call_id, name, arguments)``, or None when done."""
        if n >= len(self.script):
            return None
        return [(_id("call"), name, _arguments(args)) for name, args in self.script[n]]

    # -- Responses ----------------------------------------------------------------

    def responses(self, body: dict[str, Any]) -> dict[str, Any]:
        items = body.get("input")
        items = items if isinstance(items, list) else []
        outputs = [
            str(i.get("output"))
            for i in items
            if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        turns = sum(1 for i in items if isinstance(i, dict) and i.get("type") == "function_call")
        # A turn is answered when all its calls are; count turns by the calls seen.
        done_turns, seen = 0, 0
        for turn in self.script:
            if seen + len(turn) > turns:
                break
            seen += len(turn)
            done_turns += 1
        calls = self._turn(done_turns)
        output: list[dict[str, Any]]
        if calls is None:
            output = [_response_message(final_text(outputs))]
        else:
            output = [
                {
                    "type": "function_call",
                    "id": _id("fc"),
                    "call_id": call_id,
                    "name": name,
                    "arguments": arguments,
                    "status": "completed",
                }
                for call_id, name, arguments in calls
            ]
        return {
            "id": _id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model", "fake"),
            "status": "completed",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": body.get("tools", []),
        }

    # -- Chat Completions ---------------------------------------------------------

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        outputs = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
        done_turns = sum(
            1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls")
        )
        calls = self._turn(done_turns)
        message: dict[str, Any]
        if calls is None:
            message = {"role": "assistant", "content": final_text(outputs)}
            finish = "stop"
        else:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                    for call_id, name, arguments in calls
                ],
            }
            finish = "tool_calls"
        return {
            "id": _id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }

    # -- Assistants -----------------------------------------------------------------

    def create_assistant(self, body: dict[str, Any]) -> dict[str, Any]:
        assistant = {
            "id": _id("asst"),
            "object": "assistant",
            "created_at": int(time.time()),
            "model": body.get("model", "fake"),
            "name": body.get("name"),
            "instructions": body.get("instructions"),
            "description": None,
            "metadata": {},
            "tools": body.get("tools", []),
        }
        self.assistants[assistant["id"]] = assistant
        return assistant

    def create_thread(self, body: dict[str, Any]) -> dict[str, Any]:
        thread_id = _id("thread")
        self.threads[thread_id] = []
        for message in body.get("messages") or []:
            self.add_message(thread_id, message)
        return {"id": thread_id, "object": "thread", "created_at": int(time.time()), "metadata": {}}

    def add_message(self, thread_id: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
        content = body.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        message = {
            "id": _id("msg"),
            "object": "thread.message",
            "created_at": int(time.time()),
            "thread_id": thread_id,
            "role": body.get("role", "user"),
            "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
            "attachments": [],
            "metadata": {},
            "status": "completed",
            **extra,
        }
        self.threads[thread_id].append(message)
        return message

    def list_messages(self, thread_id: str) -> dict[str, Any]:
        # The API lists newest first by default.
        data = list(reversed(self.threads[thread_id]))
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }

    def create_run(self, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if thread_id not in self.threads:
            raise KeyError(thread_id)
        run = _Run(_id("run"), thread_id, str(body.get("assistant_id")))
        self.runs[run.id] = run
        return self.run_json(run)

    def retrieve_run(self, run_id: str) -> dict[str, Any]:
        run = self.runs[run_id]
        if run.status in ("queued", "in_progress"):
            self._advance(run)
        return self.run_json(run)

    def submit_tool_outputs(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        run = self.runs[run_id]
        if run.status != "requires_action":
            raise ValueError(f"run {run_id} is {run.status}, not requires_action")
        given = {o["tool_call_id"]: str(o.get("output")) for o in body.get("tool_outputs", [])}
        wanted = [call["id"] for call in run.pending]
        if sorted(given) != sorted(wanted):
            raise ValueError(f"tool outputs for {sorted(given)}, expected {sorted(wanted)}")
        run.outputs.extend(given[call_id] for call_id in wanted)
        run.pending = []
        run.turn += 1
        run.status = "in_progress"
        return self.run_json(run)

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        run = self.runs[run_id]
        run.status = "cancelled"
        run.pending = []
        return self.run_json(run)

    def _advance(self, run: _Run) -> None:
        calls = self._turn(run.turn)
        if calls is None:
            self.add_message(
                run.thread_id,
                {"role": "assistant", "content": final_text(run.outputs)},
                assistant_id=run.assistant_id,
                run_id=run.id,
            )
            run.status = "completed"
            return
        run.pending = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls
        ]
        run.status = "requires_action"

    def run_json(self, run: _Run) -> dict[str, Any]:
        required = None
        if run.status == "requires_action":
            required = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": list(run.pending)},
            }
        return {
            "id": run.id,
            "object": "thread.run",
            "created_at": run.created_at,
            "thread_id": run.thread_id,
            "assistant_id": run.assistant_id,
            "status": run.status,
            "required_action": required,
            "model": "fake",
            "instructions": "",
            "tools": [],
            "parallel_tool_calls": True,
            "metadata": {},
        }


def _response_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": _id("msg"),
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        path = self.path.split("?", 1)[0].rstrip("/")
        parts = path.split("/")[2:] if path.startswith("/v1/") else []
        state = self.server.state
        try:
            with state.lock:
                state.requests.append((method, path, body))
                result = _route(state, method, parts, body)
        except (KeyError, ValueError) as exc:
            self._send(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            return
        if result is None:
            self._send(
                404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}}
            )
            return
        self._send(200, result)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        # The SDK's pollers honour this: poll again after 1 ms rather than a second.
        self.send_header("openai-poll-after-ms", "1")
        self.end_headers()
        self.wfile.write(data)


def _route(
    state: FakeOpenAI, method: str, parts: list[str], body: dict[str, Any]
) -> dict[str, Any] | None:
    match method, parts:
        case "POST", ["responses"]:
            return state.responses(body)
        case "POST", ["chat", "completions"]:
            return state.chat(body)
        case "POST", ["assistants"]:
            return state.create_assistant(body)
        case "GET", ["assistants", assistant_id]:
            return state.assistants[assistant_id]
        case "POST", ["threads"]:
            return state.create_thread(body)
        case "POST", ["threads", thread_id, "messages"]:
            return state.add_message(thread_id, body)
        case "GET", ["threads", thread_id, "messages"]:
            return state.list_messages(thread_id)
        case "POST", ["threads", thread_id, "runs"]:
            return state.create_run(thread_id, body)
        case "GET", ["threads", _, "runs", run_id]:
            return state.retrieve_run(run_id)
        case "POST", ["threads", _, "runs", run_id, "submit_tool_outputs"]:
            return state.submit_tool_outputs(run_id, body)
        case "POST", ["threads", _, "runs", run_id, "cancel"]:
            return state.cancel_run(run_id)
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeOpenAI) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def serve(script: Script = ()) -> Iterator[FakeOpenAI]:
    """Serve a :class:`FakeOpenAI` on a free loopback port; ``state.base_url`` is its ``/v1``."""
    state = FakeOpenAI(script=script)
    server = _Server(state)
    host, port = server.server_address[:2]
    state.base_url = f"http://{host!s}:{port}/v1"
    thread = threading.Thread(target=server.serve_forever, name="fake-openai", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
