"""tappaas.litellm.metrics: the real LiteLLM proxy with the module's metrics settings
(modules/litellm/metrics-settings.json, the file metrics.nix merges into the configuration).

/metrics refuses requests without a key and, with one, counts the completions it served.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from stacklib import MODULE_DIR, LiteLLMProxy, start_litellm
from upstream import FakeUpstream

METRICS_SETTINGS = json.loads((MODULE_DIR / "metrics-settings.json").read_text())


@pytest.fixture(scope="module")
def metrics_proxy(
    upstream: FakeUpstream, redis_server, stack_secrets, tmp_path_factory
) -> Iterator[LiteLLMProxy]:
    proxy = start_litellm(
        tmp_path_factory.mktemp("litellm-metrics"),
        upstream.base_url,
        redis_server,
        stack_secrets,
        overlay=METRICS_SETTINGS,
    )
    yield proxy
    proxy.stop()


def total_requests(text: str) -> float:
    """Sum of litellm_proxy_total_requests_metric_total over all its label sets."""
    values = re.findall(r"^litellm_proxy_total_requests_metric_total\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(v) for v in values)


def test_metrics_need_a_key(metrics_proxy: LiteLLMProxy) -> None:
    with metrics_proxy.client(timeout=60) as client:
        anonymous = client.get("/metrics", headers={"Authorization": ""})
        assert anonymous.status_code == 401, anonymous.text
        assert "litellm_proxy_total_requests" not in anonymous.text
        wrong = client.get("/metrics", headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401, wrong.text


def test_metrics_count_completions(metrics_proxy: LiteLLMProxy) -> None:
    with metrics_proxy.client(timeout=120) as client:
        auth = metrics_proxy.headers()
        before = client.get("/metrics/", headers=auth)
        assert before.status_code == 200, before.text
        body = {
            "model": metrics_proxy.model,
            "messages": [{"role": "user", "content": "count me"}],
            "caching": False,
        }
        for _ in range(2):
            assert client.post("/chat/completions", json=body, headers=auth).status_code == 200
        # LiteLLM counts a request in a callback after its answer: on a busy machine the
        # second one may not be counted yet when the answer arrives.
        for _ in range(50):
            after = client.get("/metrics/", headers=auth)
            assert after.status_code == 200
            if total_requests(after.text) >= total_requests(before.text) + 2:
                break
            time.sleep(0.2)
        assert total_requests(after.text) >= total_requests(before.text) + 2, after.text[-3000:]
        assert "litellm_request_total_latency_metric_bucket" in after.text
