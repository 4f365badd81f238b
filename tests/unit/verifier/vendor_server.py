"""A loopback HTTP server that speaks the three vendors' chat APIs.

- OpenAI-compatible: ``POST /v1/chat/completions`` (base URL ``.../v1``)
- Anthropic Messages: ``POST /v1/messages``
- Gemini: ``POST /v1beta/models/{model}:generateContent``

What each model does is a script: a list of steps taken one per request
(the last step repeats). A step is the answer text, or one of
``Status(code, retry_after=None)`` (with a ``Retry-After`` header when
given), ``Malformed()``, ``Hang()`` (never answers until the server
stops), ``Delay(seconds, text)`` or ``Held(text)`` (answers once the test
sets ``server.release``). Every request's path, headers and body
are recorded with the server's clock (``at``, monotonic seconds), so a test
can read what reached the "vendor" and when.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent_os.verifier import Answer


@dataclass(frozen=True)
class Status:
    code: int
    retry_after: str | None = None


@dataclass(frozen=True)
class Malformed:
    body: bytes = b'{"unexpected": true}'


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class Delay:
    seconds: float
    text: str


@dataclass(frozen=True)
class Held:
    text: str


Step = str | Status | Malformed | Hang | Delay | Held


@dataclass
class VendorServer:
    scripts: dict[str, list[Step]]
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _turns: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def step(self, model: str) -> Step:
        with self._lock:
            script = self.scripts.get(model) or [Status(404)]
            n = self._turns.get(model, 0)
            self._turns[model] = n + 1
            return script[min(n, len(script) - 1)]

    def calls(self, model: str) -> int:
        with self._lock:
            return self._turns.get(model, 0)


def _reply(vendor: str, model: str, text: str) -> dict[str, Any]:
    if vendor == "openai":
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        }
    if vendor == "anthropic":
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": 4},
        }
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 13, "candidatesTokenCount": 5},
    }


_GEMINI = re.compile(r"^/v1beta/models/([^/:]+):generateContent$")


def _handler(server: VendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            path = self.path
            if path == "/v1/chat/completions":
                vendor, model = "openai", body.get("model", "")
            elif path == "/v1/messages":
                vendor, model = "anthropic", body.get("model", "")
            elif (m := _GEMINI.match(path)) is not None:
                vendor, model = "gemini", m.group(1)
            else:
                self._send(404, b'{"error": "not found"}')
                return
            server.requests.append(
                {
                    "path": path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                    "at": time.monotonic(),
                }
            )
            step = server.step(model)
            if isinstance(step, Hang):
                server.stopping.wait()
                return
            if isinstance(step, Held):
                while not (server.release.wait(0.05) or server.stopping.is_set()):
                    pass
                step = step.text
            if isinstance(step, Delay):
                server.enter()
                try:
                    time.sleep(step.seconds)
                finally:
                    server.leave()
                step = step.text
            if isinstance(step, Status):
                extra = {} if step.retry_after is None else {"retry-after": step.retry_after}
                self._send(step.code, json.dumps({"error": {"code": step.code}}).encode(), extra)
            elif isinstance(step, Malformed):
                self._send(200, step.body)
            else:
                self._send(200, json.dumps(_reply(vendor, model, step)).encode())

        def _send(self, code: int, payload: bytes, extra: Mapping[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


class _Server(ThreadingHTTPServer):
    # Many verifications at once open many connections: the default backlog of 5 refuses some.
    request_queue_size = 256
    daemon_threads = True


@contextmanager
def vendor_server(scripts: Mapping[str, Sequence[Step]]) -> Iterator[VendorServer]:
    """Serve ``scripts`` on a free loopback port for the duration of the block."""
    state = VendorServer({k: list(v) for k, v in scripts.items()})
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def three(server: VendorServer) -> list[str]:
    """The models ``gpt-local``, ``claude-local``, ``gemini-local``: one per vendor dialect."""
    return [
        f"openai:gpt-local@{server.url}/v1",
        f"anthropic:claude-local@{server.url}",
        f"gemini:gemini-local@{server.url}",
    ]


class Instant:
    """A model with no server at all: answers ``text`` at once (a provider object)."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self._text = text

    async def complete(self, prompt: str) -> Answer:
        return Answer(self.name, self._text, 0.0)

    async def aclose(self) -> None:
        return None
