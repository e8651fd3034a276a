"""The fake OpenAI-compatible upstream itself: routes, key, counter and run-time switches."""

from __future__ import annotations

import time

import httpx
import pytest
from upstream import MODEL_ID, REPLY_PREFIX, FakeUpstream

KEY = "test-key"


@pytest.fixture
def server():
    with FakeUpstream(api_key=KEY) as upstream:
        yield upstream


def chat(server: FakeUpstream, text: str, path: str = "/v1/chat/completions", **kw):
    return httpx.post(
        f"{server.url}{path}",
        json={
            "model": MODEL_ID,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": text},
            ],
        },
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
        **kw,
    )


def test_routes_and_counter(server):
    models = httpx.get(f"{server.base_url}/models", headers={"Authorization": f"Bearer {KEY}"})
    assert models.json()["data"][0]["id"] == MODEL_ID
    for path in ("/v1/chat/completions", "/chat/completions"):
        reply = chat(server, "hi", path=path)
        assert reply.status_code == 200
        body = reply.json()
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"] == REPLY_PREFIX + "hi"
        assert body["usage"]["total_tokens"] > 0
    assert server.completions_served == 2
    unauthorised = httpx.post(f"{server.base_url}/chat/completions", json={"messages": []})
    assert unauthorised.status_code == 401
    assert server.completions_served == 2


def test_control_endpoint_switches_failure_and_delay(server):
    state = httpx.post(f"{server.url}/_control", json={"fail": True, "fail_status": 503}).json()
    assert state["fail"] is True and state["fail_status"] == 503
    failed = chat(server, "x")
    assert failed.status_code == 503
    assert failed.json()["error"]["message"]
    assert server.requests_failed == 1
    assert server.completions_served == 0

    httpx.post(f"{server.url}/_control", json={"reset": True, "delay": 0.4})
    started = time.monotonic()
    assert chat(server, "slow").status_code == 200
    assert time.monotonic() - started >= 0.4
    state = httpx.get(f"{server.url}/_control").json()
    assert state == {
        "completions_served": 1,
        "requests_failed": 1,
        "delay": 0.4,
        "fail": False,
        "fail_status": 500,
    }


def test_streaming(server):
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/completions",
        json={
            "model": MODEL_ID,
            "stream": True,
            "messages": [{"role": "user", "content": "stream me"}],
        },
        headers={"Authorization": f"Bearer {KEY}"},
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert server.completions_served == 1
