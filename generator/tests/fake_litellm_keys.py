"""A small recording stand-in for LiteLLM's key API, for the service-key tests.

LiteLLM's /key/* endpoints need its database, which the real proxy cannot have here (Prisma's
engines are downloaded at first start). This server answers what the reconciler and
`service-key --test` use, the way LiteLLM 1.89.3 does: the master key for /key/*, aliases unique,
`key_alias` on /key/list a case-insensitive substring filter with pages of at most 100, keys
stored by their SHA-256 hash (the `token`), the plaintext returned only by /key/generate,
/key/update and /key/delete taking the token. A key works on /v1/models and
/v1/chat/completions for the models it is limited to. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MASTER_KEY = "sk-master-" + "0" * 32
MODELS = ["model-a", "model-b", "model-c"]
KEY_FIELDS = ("models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeKeyApi:
    master_key: str = MASTER_KEY
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> key object
    calls: list[Recorded] = field(default_factory=list)
    not_ready: int = 0  # answer /health/readiness with 503 this many times
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- helpers for the tests ------------------------------------------------------------
    def writes(self) -> list[Recorded]:
        return [c for c in self.calls if c.method == "POST"]

    def by_alias(self, alias: str) -> dict[str, Any] | None:
        return next((k for k in self.keys.values() if k["key_alias"] == alias), None)

    def add_key(self, alias: str, **fields: Any) -> str:
        """A key made outside the reconciler (by hand in the UI, say); returns its plaintext."""
        plaintext = "sk-" + secrets.token_hex(16)
        token = hashlib.sha256(plaintext.encode()).hexdigest()
        self.keys[token] = _key_object(token, alias, fields)
        return plaintext

    # -- the API ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], auth: str, body: Any):
        with self.lock:
            self.calls.append(Recorded(method, path, query, body))
            if path == "/health/readiness":
                if self.not_ready > 0:
                    self.not_ready -= 1
                    return 503, {"error": "starting"}
                return 200, {"status": "healthy"}
            bearer = auth.removeprefix("Bearer ").strip()
            if path.startswith("/key/"):
                if bearer != self.master_key:
                    return 401, {"error": {"message": "Authentication Error, invalid key"}}
                return self._key_endpoint(method, path, query, body)
            if path in ("/v1/models", "/models", "/v1/chat/completions", "/chat/completions"):
                key = self.keys.get(hashlib.sha256(bearer.encode()).hexdigest())
                if key is None and bearer != self.master_key:
                    return 401, {"error": {"message": "Authentication Error, invalid key"}}
                allowed = (key or {}).get("models") or MODELS
                if "models" in path:
                    return 200, {"data": [{"id": m, "object": "model"} for m in allowed]}
                model = (body or {}).get("model")
                if model not in allowed:
                    return 401, {"error": {"message": f"key not allowed to access {model}"}}
                return 200, {"choices": [{"message": {"role": "assistant", "content": "ok"}}]}
            return 404, {"detail": "Not Found"}

    def _key_endpoint(self, method: str, path: str, query: dict[str, str], body: Any):
        if method == "GET" and path == "/key/list":
            wanted = (query.get("key_alias") or "").lower()
            size = int(query.get("size", "10"))
            page = int(query.get("page", "1"))
            if size > 100:
                return 422, {"detail": "size must be at most 100"}
            found = sorted(
                (k for k in self.keys.values() if wanted in (k["key_alias"] or "").lower()),
                key=lambda k: k["token"],
            )
            chunk = found[(page - 1) * size : page * size]
            full = query.get("return_full_object") == "true"
            return 200, {
                "keys": [dict(k) for k in chunk] if full else [k["token"] for k in chunk],
                "total_count": len(found),
                "current_page": page,
                "total_pages": max(1, math.ceil(len(found) / size)),
            }
        if method == "POST" and path == "/key/generate":
            alias = body.get("key_alias")
            if alias and self.by_alias(alias) is not None:
                return 400, {
                    "error": {
                        "message": f"Unique key aliases across all keys are required: {alias}"
                    }
                }
            plaintext = "sk-" + secrets.token_hex(16)
            token = hashlib.sha256(plaintext.encode()).hexdigest()
            fields = {f: body[f] for f in KEY_FIELDS if f in body}
            self.keys[token] = _key_object(token, alias, fields)
            return 200, {"key": plaintext, "token": token, "key_alias": alias}
        if method == "POST" and path == "/key/update":
            key = self.keys.get(body.get("key"))
            if key is None:
                return 404, {"error": {"message": "Key not found"}}
            for name in KEY_FIELDS:
                if name in body:
                    key[name] = body[name]
            return 200, dict(key)
        if method == "POST" and path == "/key/delete":
            missing = [t for t in body.get("keys", []) if t not in self.keys]
            if missing:
                return 404, {"error": {"message": f"keys not found: {missing}"}}
            for token in body["keys"]:
                del self.keys[token]
            return 200, {"deleted_keys": body["keys"]}
        return 404, {"detail": "Not Found"}


def _key_object(token: str, alias: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": token,
        "key_alias": alias,
        "models": list(fields.get("models") or []),
        "max_budget": fields.get("max_budget"),
        "budget_duration": fields.get("budget_duration"),
        "rpm_limit": fields.get("rpm_limit"),
        "tpm_limit": fields.get("tpm_limit"),
        "metadata": dict(fields.get("metadata") or {}),
        "spend": 0.0,
    }


class _Handler(BaseHTTPRequestHandler):
    api: FakeKeyApi

    def log_message(self, *_: object) -> None:
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, answer = self.api.handle(
            method, parts.path, query, self.headers.get("Authorization", ""), body
        )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


class FakeKeyServer:
    """The fake on 127.0.0.1 and a free port, in a thread; use as a context manager."""

    def __init__(self, api: FakeKeyApi | None = None) -> None:
        self.api = api or FakeKeyApi()
        handler = type("Handler", (_Handler,), {"api": self.api})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeKeyServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
