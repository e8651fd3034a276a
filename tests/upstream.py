"""A small OpenAI-compatible server to put behind LiteLLM in the tests.

It answers ``POST /v1/chat/completions`` (and ``/chat/completions``) with a deterministic reply
built from the last user message, lists one model on ``GET /v1/models``, counts the completions it
served, and can be told at run time to be slow or to fail:

* from Python: ``FakeUpstream.set_delay(seconds)``, ``set_failing(True, status=500)``, ``reset()``;
* over HTTP: ``POST /_control`` with JSON ``{"delay": 2.5, "fail": true, "fail_status": 503,
  "reset": true}`` (every field optional), ``GET /_control`` returns the counters and switches.

Run on its own: ``python tests/upstream.py --port 8089 [--api-key KEY]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_ID = "fake-gpt"
REPLY_PREFIX = "fake upstream reply to: "


@dataclass
class UpstreamState:
    """Switches and counters, shared by the request threads."""

    api_key: str | None = None
    delay: float = 0.0
    fail: bool = False
    fail_status: int = 500
    completions_served: int = 0
    requests_failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "completions_served": self.completions_served,
                "requests_failed": self.requests_failed,
                "delay": self.delay,
                "fail": self.fail,
                "fail_status": self.fail_status,
            }


def reply_text(messages: list[dict[str, Any]]) -> str:
    """The answer the upstream gives: derived from the last user message only."""
    last = ""
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                content = " ".join(
                    str(part.get("text", "")) for part in content if isinstance(part, dict)
                )
            last = str(content)
    return REPLY_PREFIX + last


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, a keep-alive
    # client's delayed ACK would hold every body back about 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read counters, not access logs."""

    # -- helpers -----------------------------------------------------------------------------
    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def _error(self, status: int, message: str, kind: str) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": status}})

    def _authorised(self) -> bool:
        key = self.server.state.api_key
        if key is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._error(HTTPStatus.UNAUTHORIZED, "invalid api key", "invalid_request_error")
        return False

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/_control":
            self._send_json(HTTPStatus.OK, self.server.state.snapshot())
        elif path in ("/v1/models", "/models"):
            if self._authorised():
                self._send_json(
                    HTTPStatus.OK,
                    {
                        "object": "list",
                        "data": [
                            {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "tests"}
                        ],
                    },
                )
        elif path == "/health":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no route {path}", "not_found")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_json()
        if body is None:
            self._error(
                HTTPStatus.BAD_REQUEST, "body is not a JSON object", "invalid_request_error"
            )
            return
        if path == "/_control":
            self.server.upstream.apply_control(body)
            self._send_json(HTTPStatus.OK, self.server.state.snapshot())
        elif path in ("/v1/chat/completions", "/chat/completions"):
            if self._authorised():
                self._chat_completion(body)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no route {path}", "not_found")

    def _chat_completion(self, body: dict[str, Any]) -> None:
        state = self.server.state
        with state.lock:
            delay, fail, fail_status = state.delay, state.fail, state.fail_status
        if delay > 0:
            time.sleep(delay)
        if fail:
            with state.lock:
                state.requests_failed += 1
            self._error(fail_status, "the fake upstream was told to fail", "server_error")
            return
        messages = body.get("messages")
        if not isinstance(messages, list):
            self._error(HTTPStatus.BAD_REQUEST, "messages must be a list", "invalid_request_error")
            return
        text = reply_text(messages)
        model = str(body.get("model") or MODEL_ID)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(text.split())
        with state.lock:
            state.completions_served += 1
        if body.get("stream"):
            self._stream(completion_id, created, model, text)
            return
        self._send_json(
            HTTPStatus.OK,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def _stream(self, completion_id: str, created: int, model: str, text: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        words = text.split(" ")
        for index, word in enumerate(words):
            piece = word if index == 0 else " " + word
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": piece}
                        if index == 0
                        else {"content": piece},
                        "finish_reason": None,
                    }
                ],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        final = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout in LiteLLM) is expected, not an error."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], upstream: FakeUpstream) -> None:
        super().__init__(address, _Handler)
        self.upstream = upstream
        self.state = upstream.state


class FakeUpstream:
    """The fake OpenAI-compatible upstream, served from a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None) -> None:
        self.state = UpstreamState(api_key=api_key)
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-upstream", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client (or LiteLLM's ``api_base``) is given."""
        return f"{self.url}/v1"

    @property
    def api_key(self) -> str | None:
        return self.state.api_key

    # -- switches and counters ---------------------------------------------------------------
    @property
    def completions_served(self) -> int:
        with self.state.lock:
            return self.state.completions_served

    @property
    def requests_failed(self) -> int:
        with self.state.lock:
            return self.state.requests_failed

    def set_delay(self, seconds: float) -> None:
        with self.state.lock:
            self.state.delay = max(0.0, float(seconds))

    def set_failing(self, fail: bool = True, status: int = 500) -> None:
        with self.state.lock:
            self.state.fail = fail
            self.state.fail_status = int(status)

    def reset(self) -> None:
        """Back to healthy and fast; counters kept (tests compare before/after)."""
        with self.state.lock:
            self.state.delay = 0.0
            self.state.fail = False
            self.state.fail_status = 500

    def apply_control(self, body: dict[str, Any]) -> None:
        if body.get("reset"):
            self.reset()
        if "delay" in body:
            self.set_delay(float(body["delay"]))
        if "fail" in body or "fail_status" in body:
            with self.state.lock:
                fail_status = int(body.get("fail_status", self.state.fail_status))
                fail = bool(body.get("fail", self.state.fail))
            self.set_failing(fail, fail_status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    args = parser.parse_args()
    upstream = FakeUpstream(args.host, args.port, args.api_key)
    print(f"fake upstream on {upstream.base_url}", flush=True)
    try:
        upstream._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        upstream._server.server_close()


if __name__ == "__main__":
    main()
