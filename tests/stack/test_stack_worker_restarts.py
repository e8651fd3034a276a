"""maxRequestsBeforeRestart: why the module passes it only with two workers or more.

The real LiteLLM proxy runs with the container's command line from container-args.nix.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from stacklib import container_args, start_litellm, wait_until


def _children(pid: int) -> set[int]:
    """The processes `pid` started (uvicorn's workers, among others)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _hit(url: str, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        try:
            statuses.append(httpx.get(f"{url}/health/liveliness", timeout=5).status_code)
        except httpx.HTTPError:
            statuses.append(0)
    return statuses


def test_two_workers_replace_workers_that_reached_their_limit(
    upstream, redis_server, stack_secrets, tmp_path
) -> None:
    proxy = start_litellm(
        tmp_path, upstream.base_url, redis_server, stack_secrets, workers=2, max_requests=5
    )
    try:
        assert "--max_requests_before_restart" in proxy.process.args
        before = _children(proxy.process.pid)
        _hit(proxy.url, 15)  # both workers reach their limit
        # uvicorn's supervisor starts new workers; LiteLLM answers again by itself.
        wait_until(lambda: _hit(proxy.url, 1) == [200], 120, "liveliness after the restarts")
        assert proxy.process.poll() is None
        after = _children(proxy.process.pid)
        assert before - after, "no worker was replaced"
        assert len(after) >= len(before)
    finally:
        proxy.stop()


def test_one_worker_that_reaches_the_limit_ends_litellm(
    upstream, redis_server, stack_secrets, tmp_path
) -> None:
    # The module's own arguments leave the limit out with one worker ...
    args = container_args(tmp_path / "config.yaml", 4000, 1, 5)["cmd"]
    assert "--max_requests_before_restart" not in args
    # ... because with it, the one worker exits at the limit and takes LiteLLM with it.
    proxy = start_litellm(
        tmp_path,
        upstream.base_url,
        redis_server,
        stack_secrets,
        extra_args=["--max_requests_before_restart", "5"],
    )
    try:
        _hit(proxy.url, 10)
        wait_until(lambda: proxy.process.poll() is not None, 30, "litellm to exit")
    finally:
        proxy.stop()
