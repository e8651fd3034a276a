"""The real LiteLLM proxy with the module's base configuration, real Redis and the fake upstream.

Without a database (Prisma's engines cannot be downloaded here) a key other than the master key
cannot be looked up, so LiteLLM answers a wrong key with 400 "No connected db." instead of 401;
either way the request is refused before it reaches the upstream. The NixOS VM tests, where the
image carries the engines, cover virtual keys and the 401.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from stacklib import BASE_CONFIG_FILE, SECRET_NAMES, LiteLLMProxy, parse_env_file
from upstream import REPLY_PREFIX, FakeUpstream

WRONG_KEYS = ["sk-" + "0" * 64, "not-a-key"]
# LiteLLM's auth error handler imports the Python package `prisma`, which the container image has;
# without it a request with no key ends in a 500 instead of a 401.
MISSING_KEY_HINT = "expected 401; a 500 means .venv-litellm lacks the package `prisma`: "


def chat_body(proxy: LiteLLMProxy, text: str, **extra) -> dict:
    return {"model": proxy.model, "messages": [{"role": "user", "content": text}], **extra}


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex}"


def assert_clean_error(response: httpx.Response, statuses: set[int]) -> dict:
    """An error status with OpenAI's JSON error shape, and no Python traceback in it."""
    assert response.status_code in statuses, response.text
    body = response.json()
    assert isinstance(body.get("error"), dict), body
    assert body["error"].get("message")
    assert "Traceback" not in response.text
    return body["error"]


@pytest.fixture
def client(litellm_proxy: LiteLLMProxy):
    with litellm_proxy.client(timeout=120) as c:
        yield c


@pytest.fixture
def healthy_upstream(upstream: FakeUpstream):
    upstream.reset()
    yield upstream
    upstream.reset()


def test_liveliness_and_readiness_need_no_key(client):
    live = client.get("/health/liveliness")
    assert live.status_code == 200
    assert "alive" in live.text.lower()
    ready = client.get("/health/readiness")
    assert ready.status_code == 200
    assert ready.json()["status"] == "healthy"


@pytest.mark.parametrize("path", ["/health", "/v1/models"])
def test_protected_routes_refuse_a_missing_key(client, healthy_upstream, path):
    before = healthy_upstream.completions_served
    response = client.get(path)
    assert response.status_code == 401, MISSING_KEY_HINT + response.text
    error = assert_clean_error(response, {401})
    assert "no api key passed in" in error["message"].lower()
    assert healthy_upstream.completions_served == before


@pytest.mark.parametrize("key", WRONG_KEYS)
@pytest.mark.parametrize("path", ["/health", "/v1/models"])
def test_protected_routes_refuse_a_wrong_key(client, healthy_upstream, path, key):
    before = healthy_upstream.completions_served
    assert_clean_error(client.get(path, headers={"Authorization": f"Bearer {key}"}), {400, 401})
    assert healthy_upstream.completions_served == before


def test_chat_completion_refuses_missing_and_wrong_keys(client, litellm_proxy, healthy_upstream):
    before = healthy_upstream.completions_served
    body = chat_body(litellm_proxy, unique("refused"))
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 401, MISSING_KEY_HINT + response.text
    assert_clean_error(response, {401})
    for key in WRONG_KEYS:
        response = client.post(
            "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert_clean_error(response, {400, 401})
    assert healthy_upstream.completions_served == before


def test_health_with_master_key_checks_the_model(client, litellm_proxy, healthy_upstream):
    response = client.get("/health", headers=litellm_proxy.headers())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["healthy_count"] == 1
    assert report["unhealthy_count"] == 0
    assert report["healthy_endpoints"][0]["api_base"] == healthy_upstream.base_url


def test_models_lists_the_configured_model(client, litellm_proxy):
    response = client.get("/v1/models", headers=litellm_proxy.headers())
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["data"]] == [litellm_proxy.model]


def test_completion_returns_the_upstream_answer_then_comes_from_redis(
    client, litellm_proxy, healthy_upstream, redis_server
):
    text = unique("cache me")
    body = chat_body(litellm_proxy, text)
    keys_before = int(redis_server.cli("DBSIZE"))
    served_before = healthy_upstream.completions_served

    first = client.post("/chat/completions", json=body, headers=litellm_proxy.headers())
    assert first.status_code == 200, first.text
    answer = first.json()["choices"][0]["message"]["content"]
    assert answer == REPLY_PREFIX + text
    assert healthy_upstream.completions_served == served_before + 1

    # LiteLLM writes the cache entry after answering: wait until it is in Redis.
    deadline = time.monotonic() + 10
    while int(redis_server.cli("DBSIZE")) <= keys_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert int(redis_server.cli("DBSIZE")) > keys_before, "nothing was cached in Redis"

    second = client.post("/chat/completions", json=body, headers=litellm_proxy.headers())
    assert second.status_code == 200, second.text
    assert second.json()["choices"][0]["message"]["content"] == answer
    assert healthy_upstream.completions_served == served_before + 1  # served from the cache

    # A different question goes to the upstream again.
    third = client.post(
        "/chat/completions",
        json=chat_body(litellm_proxy, unique("other")),
        headers=litellm_proxy.headers(),
    )
    assert third.status_code == 200, third.text
    assert healthy_upstream.completions_served == served_before + 2


def test_upstream_failure_is_a_clean_error_and_service_resumes(
    client, litellm_proxy, healthy_upstream
):
    healthy_upstream.set_failing(True, status=500)
    failed_before = healthy_upstream.requests_failed
    response = client.post(
        "/chat/completions",
        json=chat_body(litellm_proxy, unique("fail")),
        headers=litellm_proxy.headers(),
    )
    error = assert_clean_error(response, {500, 502, 503})
    assert "fake upstream was told to fail" in error["message"]
    assert healthy_upstream.requests_failed > failed_before  # it did reach the upstream

    healthy_upstream.reset()
    text = unique("back")
    deadline = time.monotonic() + 60
    while True:
        response = client.post(
            "/chat/completions",
            json=chat_body(litellm_proxy, text),
            headers=litellm_proxy.headers(),
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == REPLY_PREFIX + text


def test_streaming_completion(client, litellm_proxy, healthy_upstream):
    text = unique("stream")
    pieces = []
    with client.stream(
        "POST",
        "/chat/completions",
        headers=litellm_proxy.headers(),
        json=chat_body(litellm_proxy, text, stream=True),
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"][0]["delta"]
                pieces.append(delta.get("content") or "")
    assert "".join(pieces) == REPLY_PREFIX + text


def test_slow_upstream_times_out_cleanly(client, litellm_proxy, healthy_upstream):
    healthy_upstream.set_delay(2.5)
    started = time.monotonic()
    response = client.post(
        "/chat/completions",
        json=chat_body(litellm_proxy, unique("slow"), timeout=0.5, num_retries=0),
        headers=litellm_proxy.headers(),
    )
    assert_clean_error(response, {408, 504})
    assert time.monotonic() - started < 2.5  # LiteLLM gave up before the upstream answered


def test_rendered_config_has_no_secret_literal(litellm_proxy):
    text = litellm_proxy.config_file.read_text()
    secrets = parse_env_file(litellm_proxy.env_file)
    provider = parse_env_file(litellm_proxy.provider_env_file)
    for name in SECRET_NAMES:
        if name != "UI_USERNAME":
            assert secrets[name] not in text, name
    for value in provider.values():
        assert value not in text
    assert "sk-" not in text

    # Every secret or connection detail of the base configuration is an environment reference.
    base = json.loads(BASE_CONFIG_FILE.read_text())
    assert base["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    cache_params = base["litellm_settings"]["cache_params"]
    for key in ["host", "port", "password"]:
        assert str(cache_params[key]).startswith("os.environ/REDIS_"), key


def test_rate_limit_counters_are_kept_in_redis_for_every_worker(
    client, litellm_proxy, healthy_upstream, redis_server
):
    """The configuration has no `router_settings` Redis: LiteLLM hands its cache's Redis to the
    router and the rate limiter, so the per-key counters every worker checks are in Redis."""
    response = client.post(
        "/chat/completions",
        json=chat_body(litellm_proxy, unique("count me")),
        headers=litellm_proxy.headers(),
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 10
    counters: list[str] = []
    while time.monotonic() < deadline:
        counters = redis_server.cli("KEYS", "{api_key:*").split()
        if any(key.endswith(":tokens") for key in counters):
            break
        time.sleep(0.1)
    assert any(key.endswith(":tokens") for key in counters), counters
    assert any(key.endswith(":max_parallel_requests") for key in counters), counters


def test_container_environment_is_the_modules_and_holds_no_secret(
    litellm_proxy, stack_secrets, redis_server
):
    env = litellm_proxy.environment
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["STORE_MODEL_IN_DB"] == "True"
    assert env["LITELLM_MODE"] == "PRODUCTION"
    assert env["REDIS_HOST"] == redis_server.host
    assert env["REDIS_PORT"] == str(redis_server.port)
    for name in SECRET_NAMES:
        assert name not in env
    for value in stack_secrets.values.values():
        if value != "admin":
            assert value not in env.values()


def test_log_keeps_errors_but_not_a_line_per_request(client, litellm_proxy, healthy_upstream):
    """At the module's log level successful requests write nothing (their record is the spend
    log in the database); an upstream failure is logged, as JSON, with its level."""

    def log_lines() -> list[str]:
        return litellm_proxy.log_file.read_text(errors="replace").splitlines()

    before = len(log_lines())
    for _ in range(5):
        response = client.post(
            "/chat/completions",
            json=chat_body(litellm_proxy, unique("quiet")),
            headers=litellm_proxy.headers(),
        )
        assert response.status_code == 200, response.text
    time.sleep(1)  # success callbacks run after the answer
    quiet = log_lines()[before:]
    assert not [line for line in quiet if "/chat/completions" in line], quiet

    healthy_upstream.set_failing(True, status=500)
    response = client.post(
        "/chat/completions",
        json=chat_body(litellm_proxy, unique("logged failure"), num_retries=0),
        headers=litellm_proxy.headers(),
    )
    assert_clean_error(response, {500, 502, 503})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        records = [json.loads(x) for x in log_lines()[before:] if x.startswith("{")]
        errors = [r for r in records if r.get("level") in ("ERROR", "CRITICAL")]
        if errors:
            break
        time.sleep(0.2)
    assert errors, log_lines()[before:]
    assert "fake upstream was told to fail" in json.dumps(errors)
