"""No request that carries a key goes through a proxy from the environment, or follows a redirect.

A real listener stands in for the proxy an environment names (http_proxy, HTTP_PROXY,
https_proxy, ALL_PROXY, ...): it records every byte it is sent and must receive none, while
`service-key --test`, LiteLLM's key API calls and the readiness poll still reach the VM.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_litellm_keys import MASTER_KEY, FakeKeyServer
from genhelpers import RecordingListener
from tappaas_litellm.onvm.key_reconciler import ApiError, LiteLLMApi

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY")  # fmt: skip


def Listener() -> RecordingListener:  # noqa: N802 - reads as the class it makes
    """A listener that records what reaches it and answers like a failing HTTP proxy."""
    return RecordingListener(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingListener]:
    listener = Listener()
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, f"http://127.0.0.1:{listener.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    yield listener
    listener.close()


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A new Python process with this environment (proxies included): urllib reads the
    proxy variables once per process, so only a fresh process shows what a user's would do."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_consumer_key_test_never_sends_the_key_to_a_proxy(proxy: RecordingListener) -> None:
    """test-service runs on the VM (`service-keys test`): the consumer's key asks LiteLLM
    for its models, never through a proxy."""
    with FakeKeyServer() as server:
        key = server.api.add_key("litellm-svc-n8n", models=["model-b"])
        result = _python(
            "import sys; from tappaas_litellm.onvm.key_reconciler import LiteLLMApi\n"
            "print(LiteLLMApi(sys.argv[1], sys.argv[2], timeout=10).models(sys.argv[3]))",
            *(server.url, MASTER_KEY, key),
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['model-b']\n"
    assert proxy.received == b""


def test_the_key_api_never_sends_the_master_key_to_a_proxy(proxy: RecordingListener) -> None:
    with FakeKeyServer() as server:
        server.api.add_key("litellm-svc-a")
        result = _python(
            "import sys; from tappaas_litellm.onvm.key_reconciler import LiteLLMApi\n"
            "api = LiteLLMApi(sys.argv[1], sys.argv[2], timeout=10)\n"
            "api.wait_ready(attempts=2, interval=0)\n"
            "print([key.get('key_alias') for key in api.service_keys()])",
            *(server.url, MASTER_KEY),
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['litellm-svc-a']\n"
    assert proxy.received == b""


def test_the_readiness_poll_never_goes_through_a_proxy(proxy: RecordingListener) -> None:
    with FakeKeyServer() as server:
        result = _python(
            "import sys; from tappaas_litellm.admin.deploy import wait_until_ready\n"
            "print(wait_until_ready(sys.argv[1], 5, say=print, interval=0.1))",
            f"{server.url}/health/readiness",
        )
    assert result.returncode == 0 and result.stdout.strip() not in ("", "None"), result
    assert proxy.received == b""


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_a_redirect_never_carries_the_key_elsewhere(proxy: RecordingListener) -> None:
    elsewhere = Listener()
    _Redirect.target = f"http://127.0.0.1:{elsewhere.port}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = LiteLLMApi(f"http://127.0.0.1:{server.server_address[1]}", MASTER_KEY, timeout=5)
        with pytest.raises(ApiError) as info:
            api.service_keys()
    finally:
        server.shutdown()
        server.server_close()
        elsewhere.close()
    assert "307" in str(info.value)
    assert elsewhere.received == b"" and proxy.received == b""
    assert MASTER_KEY not in str(info.value)


def test_a_closed_listener_stops_listening() -> None:
    """The helper these tests trust: after close() no thread of it accepts anything, so a
    socket that later reuses its descriptor (the stack's upstream) is served by its owner."""
    listener = Listener()
    listener.close()
    assert not listener.thread.is_alive()
    with socket.socket() as reused:
        reused.bind(("127.0.0.1", 0))
        reused.listen()
        with socket.create_connection(reused.getsockname(), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\n\r\n")
            conn, _ = reused.accept()
            with conn:
                assert conn.recv(100).startswith(b"GET /")
    assert listener.received == b""
