"""A fake Anthropic + OpenAI HTTP server on 127.0.0.1, for testing the real SDKs offline.

It speaks the Anthropic Messages API (``POST .../messages``) and OpenAI Chat Completions
(``POST .../chat/completions``), streaming (SSE) or not. Any path prefix is accepted, so the
Anthropic SDK can use ``fake.url`` and the OpenAI SDK ``fake.url + "/v1"``.

The default reply is ``"You said: <last user message>"``, streamed word by word. A `Directive`
changes how one request is answered. Directives come from the queue filled by `script` (one per
request, in order) and from tags in the last user message, which override the queued fields::

    [[fake:status=429]] [[fake:retry_after=0]] [[fake:reply=Hello, world]] [[fake:delay=0.05]]
    [[fake:fail_once=529]] [[fake:hang=1]] [[fake:drop_after=2]] [[fake:malformed=1]]

Tags work wherever only the prompt can be controlled (a CLI subprocess, a benchmark) and are
removed from the echoed text. ``FakeLLMServer(default)`` sets the directive used when the queue
is empty. Every request is logged in `requests`. Error answers carry the API's own error JSON,
and 429 and 5xx ones ``retry-after``/``retry-after-ms`` headers (10 ms unless told), which both
SDKs honour, so their retries stay fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

TAG = re.compile(r"\[\[fake:([a-z_]+)=(.*?)\]\]", re.DOTALL)
ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Directive:
    """How the server answers one request; the defaults give a normal streamed reply."""

    reply: str | None = None  # reply text instead of "You said: ..."
    delay: float = 0.0  # seconds to wait before each streamed delta
    status: int | None = None  # answer with this HTTP error status
    retry_after: float = 0.01  # seconds, sent as retry-after(-ms) with 429 and 5xx answers
    fail_once: int | None = None  # fail the first request with this body with this status
    hang: bool = False  # read the request, never answer until the server closes
    drop_after: int | None = None  # stream this many deltas, then cut the connection
    malformed: bool = False  # the first delta event is not valid JSON


def _flag(value: str) -> bool:
    return value.strip().lower() in ("", "1", "true", "yes")


# How each tag's text becomes a `Directive` field.
TAG_VALUES: dict[str, Callable[[str], Any]] = {
    "reply": str,
    "delay": float,
    "status": int,
    "retry_after": float,
    "fail_once": int,
    "hang": _flag,
    "drop_after": int,
    "malformed": _flag,
}


def parse_tags(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``[[fake:key=value]]`` tags off a message: (text without tags, directive fields)."""
    fields: dict[str, Any] = {}
    for key, value in TAG.findall(text):
        if key not in TAG_VALUES:
            raise ValueError(f"unknown fake directive {key!r}; known: {', '.join(TAG_VALUES)}")
        fields[key] = TAG_VALUES[key](value)
    return " ".join(TAG.sub(" ", text).split()), fields


def _text(content: Any) -> str:
    """The text of a message's content: a string, or the last text block of a list that is
    not a ``<system-reminder>``. (Claude Code puts reminders before the user's text, and
    after a failed turn it sends that turn's text again, as an earlier block.)"""
    if isinstance(content, str):
        return content
    texts = [
        str(block.get("text", ""))
        for block in content or ()
        if isinstance(block, dict) and block.get("type", "text") == "text"
    ]
    said = [text for text in texts if not text.lstrip().startswith("<system-reminder>")]
    return said[-1] if said else ""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it. Header names are lowercase."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def api(self) -> Literal["anthropic", "openai"] | None:
        if self.path.endswith("/chat/completions"):
            return "openai"
        return "anthropic" if self.path.endswith("/messages") else None

    @property
    def auth(self) -> Literal["x-api-key", "bearer"] | None:
        """Which auth header came: ``x-api-key`` wins over ``authorization: Bearer``."""
        if "x-api-key" in self.headers:
            return "x-api-key"
        return "bearer" if self.headers.get("authorization", "").startswith("Bearer ") else None

    @property
    def credential(self) -> str | None:
        """The secret the client sent (x-api-key value or bearer token)."""
        if self.auth == "x-api-key":
            return self.headers["x-api-key"]
        return self.headers["authorization"].removeprefix("Bearer ") if self.auth else None

    @property
    def beta(self) -> str | None:
        return self.headers.get("anthropic-beta")

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def system(self) -> str:
        """The system prompt: Anthropic's ``system`` or OpenAI's system/developer messages."""
        if self.api == "anthropic":
            system = self.body.get("system", "")
            if isinstance(system, str):
                return system
            return "\n".join(str(block.get("text", "")) for block in system or ())
        roles = ("system", "developer")
        return "\n".join(_text(m.get("content")) for m in self._raw if m.get("role") in roles)

    @property
    def messages(self) -> list[tuple[str, str]]:
        """The history as (role, text), without system messages."""
        roles = ("system", "developer")
        return [(m["role"], _text(m.get("content"))) for m in self._raw if m["role"] not in roles]

    @property
    def last_user_text(self) -> str:
        return next((text for role, text in reversed(self.messages) if role == "user"), "")

    @property
    def _raw(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", ()))


class FakeLLMServer:
    """The server; use as ``with FakeLLMServer() as fake:``, or `start` and `close`."""

    def __init__(self, default: Directive | None = None) -> None:
        self.default = default or Directive()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._queue: list[Directive] = []
        self._requests: list[RecordedRequest] = []
        self._failed_once: set[str] = set()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:PORT`` (the Anthropic SDK's base_url)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """``url + "/v1"``, the usual OpenAI SDK base_url."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def script(self, *directives: Directive) -> None:
        """Queue directives: each later request takes the next one (then the default)."""
        with self._lock:
            self._queue.extend(directives)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests arrived; raise `TimeoutError` if they don't."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests within {timeout}s")
            return list(self._requests)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop promptly: wake hanging answers, cut open connections, join every thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.cut_connections()
        self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def _directive_for(self, request: RecordedRequest, raw: bytes) -> tuple[Directive, int | None]:
        """The directive for a request and the error status to answer with, if any."""
        with self._lock:
            queued = self._queue.pop(0) if self._queue else self.default
        directive = dataclasses.replace(queued, **parse_tags(request.last_user_text)[1])
        if directive.fail_once is not None:
            fingerprint = hashlib.sha256(raw).hexdigest()
            with self._lock:
                if fingerprint not in self._failed_once:
                    self._failed_once.add(fingerprint)
                    return directive, directive.fail_once
        return directive, directive.status


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its open connections, so `close` can cut them."""

    daemon_threads = False  # so server_close() joins every request thread

    def __init__(self, fake: FakeLLMServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):  # already closed by the client
                    sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that hang up mid-answer are part of the tests."""


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # each SSE frame goes out at once, as real servers do
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        self._send_json(404, {"error": {"type": "not_found_error", "message": self.path}})

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        request = RecordedRequest(
            method="POST",
            path=self.path.split("?", 1)[0],
            headers={name.lower(): value for name, value in self.headers.items()},
            body=json.loads(raw or b"{}"),
        )
        fake._record(request)
        if request.api is None:
            self._send_error(request, 404, f"no such endpoint {request.path}", 0)
            return
        try:
            directive, status = fake._directive_for(request, raw)
        except ValueError as exc:
            self._send_error(request, 400, str(exc), 0)
            return
        if directive.hang:
            fake._stopping.wait()
            self.close_connection = True
        elif status is not None:
            self._send_error(request, status, f"fake error {status}", directive.retry_after)
        else:
            text = parse_tags(request.last_user_text)[0]
            reply = directive.reply if directive.reply is not None else f"You said: {text}"
            self._answer(request, directive, reply)

    def _answer(self, request: RecordedRequest, directive: Directive, reply: str) -> None:
        pieces = re.findall(r"\S+\s*", reply) or [reply]
        words = f"{request.system} {' '.join(text for _, text in request.messages)}".split()
        usage = (len(words), len(pieces))
        anthropic = request.api == "anthropic"
        if not request.stream:
            message = _anthropic_message if anthropic else _openai_completion
            self._send_json(200, message(request.model or "", reply, usage))
            return
        events = _anthropic_events if anthropic else _openai_events
        head, deltas, tail = events(request.model or "", pieces, usage)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            self._chunks(head)
            for index, delta in enumerate(deltas):
                if directive.delay and self.server.fake._stopping.wait(directive.delay):
                    break
                if index == directive.drop_after:
                    break
                if directive.malformed and index == 0:
                    delta = delta.replace(b"data: ", b"data: {not json ", 1)
                self._chunks([delta])
            else:
                self._chunks(tail)
                self.wfile.write(b"0\r\n\r\n")
                return
        except OSError:  # the client hung up
            pass
        self.close_connection = True  # cut off mid-stream: no final chunk

    def _chunks(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        self.wfile.flush()

    def _send_error(
        self, request: RecordedRequest, status: int, message: str, retry_after: float
    ) -> None:
        if request.api == "openai":
            kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
            body: dict[str, Any] = {"error": {"message": message, "type": kind, "code": None}}
        else:
            kind = ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            body = {"type": "error", "error": {"type": kind, "message": message}}
        retry = {}
        if status == 429 or status >= 500:
            retry = {"retry-after": f"{retry_after:g}", "retry-after-ms": f"{retry_after * 1000:g}"}
        self._send_json(status, body, retry)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {**(headers or {}), "request-id": "req_fake"}.items():
            self.send_header(name, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _sse(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data)}\n\n".encode()


Frames = tuple[list[bytes], list[bytes], list[bytes]]


def _anthropic_message(model: str, text: str, usage: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def _anthropic_events(model: str, pieces: list[str], usage: tuple[int, int]) -> Frames:
    start = _anthropic_message(model, "", (usage[0], 1)) | {"content": [], "stop_reason": None}
    head = [
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
    ]
    deltas = [
        _sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
            "content_block_delta",
        )
        for p in pieces
    ]
    end = {"stop_reason": "end_turn", "stop_sequence": None}
    tail = [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {"type": "message_delta", "delta": end, "usage": {"output_tokens": usage[1]}},
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return head, deltas, tail


def _openai_usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def _openai_completion(model: str, text: str, usage: tuple[int, int]) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": _openai_usage(usage),
    }


def _openai_events(model: str, pieces: list[str], usage: tuple[int, int]) -> Frames:
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
        return _sse(base | {"model": model, "choices": choices} | extra)

    def choice(delta: dict[str, str], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "finish_reason": finish}]

    head = [chunk(choice({"role": "assistant", "content": ""}))]
    deltas = [chunk(choice({"content": p})) for p in pieces]
    tail = [chunk(choice({}, "stop")), chunk([], usage=_openai_usage(usage)), b"data: [DONE]\n\n"]
    return head, deltas, tail
