"""Benchmark of the gateway: this module's LiteLLM configuration against the install guide's and
LiteLLM's defaults, with the real LiteLLM from PyPI, a real Redis with a password, the project's
fake upstream (tests/upstream.py) and wrk; plus the cache, memory per worker, and backup/restore
of a one-million-row spend log in a real PostgreSQL. Runs without Nix; only loopback.

Run it with ``bash bench/run`` (sets up what it needs), or ``bash bench/run --quick``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

import backup  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
import setups  # noqa: E402
from stacklib import (  # noqa: E402
    REPO_ROOT,
    UPSTREAM_API_KEY,
    RedisServer,
    generate_secrets,
    launch_litellm,
    link_scripts,
    start_redis,
    stop_process,
    wait_until,
)
from upstream import REPLY_PREFIX  # noqa: E402


def start_upstream(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """tests/upstream.py in its own process, so it does not share the benchmark's interpreter."""
    from stacklib import free_port

    port = free_port()
    log = (workdir / "upstream.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "tests" / "upstream.py"),
            "--port",
            str(port),
            "--api-key",
            UPSTREAM_API_KEY,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "the fake upstream")
    return process, url


def upstream_control(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/_control", json=body, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def check_completion(base_url: str, key: str, model: str) -> None:
    """One real completion through the configuration: the upstream's answer comes back."""
    prompt = f"check {uuid.uuid4().hex}"
    with httpx.Client(base_url=base_url, timeout=60) as client:
        response = client.post(
            "/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": model, "messages": [{"role": "user", "content": prompt}]},
        )
    if response.status_code != 200:
        raise RuntimeError(f"{base_url}: {response.status_code} {response.text[:300]}")
    answer = response.json()["choices"][0]["message"]["content"]
    if answer != REPLY_PREFIX + prompt:
        raise RuntimeError(f"{base_url}: unexpected answer {answer!r}")


def say(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


class Run:
    def __init__(
        self, workdir: Path, connections: tuple[int, ...], seconds: float, quick: bool
    ) -> None:
        self.workdir = workdir
        self.connections = connections
        self.seconds = seconds
        self.quick = quick
        self.loads: list[measure.LoadResult] = []
        self.memory: dict[str, Any] = {}
        self.workers: dict[str, int] = {}
        self.cache: dict[str, Any] = {}
        self.logs: dict[str, int] = {}
        self.errors: dict[str, str] = {}

    def load(self, name: str, base_url: str, path: str, key: str, model: str, pgid: int) -> None:
        # A warm-up, not recorded: every worker imports parts of LiteLLM at its first requests.
        measure.wrk(name, base_url, path, key, model, 8, 2 if self.quick else 5)
        for connections in self.connections:
            result = measure.wrk(
                name, base_url, path, key, model, connections, self.seconds, pgid=pgid
            )
            say(
                f"{name:9} c={connections:<3} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f}"
                f"  p99 {result.p99_ms:7.1f} ms  errors {result.errors}"
                f"  cpu {result.cpu_ms_per_request:.1f} ms/req"
            )
            self.loads.append(result)

    def gateway(
        self, setup: setups.Setup, redis: RedisServer, secrets: Any, upstream_url: str
    ) -> None:
        say(f"starting LiteLLM: {setup.label} ({setup.workers} workers)")
        # Every configuration runs with the container's command line (container-args.nix), so
        # with two workers or more uvicorn's worker health check waits 60 s: with its default
        # 5 s, workers still importing LiteLLM on a busy machine are killed and started again,
        # over and over, and the guide's four workers may never come up.
        proxy = launch_litellm(
            self.workdir / setup.name,
            setup.config,
            setup.environment,
            secrets,
            workers=setup.workers,
            startup_timeout=240,
        )
        try:
            measure.wait_settled(proxy.process.pid, setup.workers)
            self.workers[setup.name] = len(measure.worker_pids(proxy.process.pid))
            idle = measure.group_memory(proxy.process.pid)
            check_completion(proxy.url, proxy.master_key, proxy.model)
            redis.cli("FLUSHALL")
            self.load(
                setup.name,
                proxy.url,
                "/chat/completions",
                proxy.master_key,
                proxy.model,
                proxy.process.pid,
            )
            loaded = measure.group_memory(proxy.process.pid)
            self.memory[setup.name] = {
                "idle": {k: [asdict(m) for m in v] for k, v in idle.items()},
                "loaded": {k: [asdict(m) for m in v] for k, v in loaded.items()},
            }
            if setup.name == "module":
                # Requests wrk gave up on may still be on their way to the upstream.
                measure.wait_settled(proxy.process.pid, setup.workers)
                self.measure_cache(proxy.url, proxy.master_key, proxy.model, upstream_url)
        finally:
            proxy.stop()
            self.logs[setup.name] = proxy.log_file.stat().st_size

    def measure_cache(self, base_url: str, key: str, model: str, upstream_url: str) -> None:
        delay = 0.2
        count = 5 if self.quick else 20
        upstream_control(upstream_url, delay=delay)
        try:
            prompts = [f"cache {uuid.uuid4().hex}" for _ in range(count)]
            before = upstream_control(upstream_url)["completions_served"]
            misses = measure.timed_completions(base_url, key, model, prompts)
            after_misses = upstream_control(upstream_url)["completions_served"]
            time.sleep(1)  # LiteLLM writes the cache entry after answering
            hits = measure.timed_completions(base_url, key, model, prompts)
            after_hits = upstream_control(upstream_url)["completions_served"]
        finally:
            upstream_control(upstream_url, delay=0)
        self.cache = {
            "upstream_delay_ms": delay * 1000,
            "requests": count,
            "miss_p50_ms": measure.median(misses),
            "hit_p50_ms": measure.median(hits),
            "miss_max_ms": round(max(misses), 1),
            "hit_max_ms": round(max(hits), 1),
            "upstream_requests_misses": after_misses - before,
            "upstream_requests_hits": after_hits - after_misses,
        }
        say(f"cache: {self.cache}")


@click.command(
    epilog="""Examples:

\b
  bash bench/run                  # the full run: about 10 minutes; writes bench/results/
  bash bench/run --quick          # every configuration once, under two minutes (CI)
  bash bench/run --seconds 30 --connections 1,8,32,64
  taskset -c 0-3 bash bench/run --memory-mib 4096   # as a 4 vCPU / 4 GiB VM
"""
)
@click.option(
    "--quick",
    is_flag=True,
    help="Short runs at 8 connections, 20,000 rows; asserts only that every configuration "
    "produced numbers.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(1, 600),
    default=None,
    help="Seconds per load run (default 15; 2 with --quick).",
)
@click.option(
    "--connections",
    default=None,
    help="Comma-separated connection counts (default 1,8,32; 8 with --quick).",
)
@click.option(
    "--rows",
    type=click.IntRange(1000, 100_000_000),
    default=None,
    help="Rows of the spend-log table for backup/restore (default 1,000,000; 20,000 with --quick).",
)
@click.option(
    "--only",
    type=click.Choice(["upstream", "guide", "defaults", "module", "floor", "backup"]),
    multiple=True,
    help="Run only these parts (repeatable).",
)
@click.option(
    "--memory-mib",
    type=click.IntRange(512, 10_000_000),
    default=None,
    help="Memory of the VM to model, for the module's worker count (default: this machine's).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for <date>.md, .json and .png (default bench/results; a temporary folder "
    "with --quick).",
)
def main(
    quick: bool,
    seconds: float | None,
    connections: str | None,
    rows: int | None,
    only: tuple[str, ...],
    memory_mib: int | None,
    out: Path | None,
) -> None:
    """Measure the gateway's cost, the cache, memory per worker, and backup/restore."""
    try:
        conns = tuple(int(c) for c in (connections or ("8" if quick else "1,8,32")).split(","))
        if not conns or min(conns) < 1:
            raise ValueError
    except ValueError:
        raise click.UsageError(
            f"--connections: {connections!r} is not a list like 1,8,32"
        ) from None
    seconds = seconds or (2.0 if quick else 15.0)
    rows = rows or (20_000 if quick else 1_000_000)
    parts = set(only or ("upstream", "guide", "defaults", "module", "floor", "backup"))
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="bench-quick-")) if quick else BENCH_DIR / "results"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="litellm-bench-") as tmp:
        results = _run(Path(tmp), conns, seconds, quick, rows, parts, memory_mib)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    paths = report.write(results, out, stamp)
    for path in paths:
        click.echo(f"wrote {path}")
    problems = report.missing_numbers(results, parts)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    click.echo(f"every configuration produced numbers ({results['elapsed_s']:.0f} s)")


def _run(
    tmp: Path,
    conns: tuple[int, ...],
    seconds: float,
    quick: bool,
    rows: int,
    parts: set[str],
    vm_memory_mib: int | None,
) -> dict[str, Any]:
    cores, memory_mib = setups.machine_size()
    vm_memory_mib = vm_memory_mib or memory_mib
    scripts = link_scripts(tmp / "bin")
    secrets = generate_secrets(scripts, tmp / "etc-secrets")
    run = Run(tmp, conns, seconds, quick)
    upstream_process, upstream_url = start_upstream(tmp)
    redis = start_redis(
        tmp / "redis", secrets.redis_password_file.read_text().strip(), appendonly=True
    )
    backup_result = None
    try:
        if "upstream" in parts:
            say("the upstream alone")
            run.load(
                "upstream",
                upstream_url,
                "/v1/chat/completions",
                UPSTREAM_API_KEY,
                "fake-gpt",
                upstream_process.pid,
            )
        base = f"{upstream_url}/v1"
        chosen = {
            "guide": lambda: setups.guide(base, redis),
            "defaults": lambda: setups.defaults(base),
            "module": lambda: setups.module(base, redis, setups.module_workers(cores, memory_mib)),
            "floor": lambda: setups.floor(base, setups.module_workers(cores, memory_mib)),
        }
        for name, make in chosen.items():
            if name in parts:
                try:
                    run.gateway(make(), redis, secrets, upstream_url)
                except (RuntimeError, TimeoutError, subprocess.SubprocessError) as error:
                    say(f"error: {name}: {error}")
                    run.errors[name] = str(error)
        if "backup" in parts:
            say(f"backup and restore of {rows:,} spend-log rows")
            try:
                backup_result = backup.run(scripts, secrets, tmp, rows)
                say(f"backup: {backup_result}")
            except (RuntimeError, TimeoutError, subprocess.SubprocessError) as error:
                say(f"error: backup: {error}")
                run.errors["backup"] = str(error)
    finally:
        redis.stop()
        stop_process(upstream_process)
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {
            "cores": cores,
            "memory_mib": memory_mib,
            "modelled_vm_memory_mib": vm_memory_mib,
            "cpu": _cpu_model(),
            "kernel": platform.release(),
            "load_before": os.getloadavg(),
        },
        "versions": _versions(),
        "seconds_per_run": seconds,
        "connections": list(conns),
        "workers": run.workers,
        "load": [r.as_dict() for r in run.loads],
        "memory": run.memory,
        "cache": run.cache,
        "log_bytes": run.logs,
        "backup": asdict(backup_result) if backup_result else None,
        "errors": run.errors,
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except OSError:
            return "?"
        return (
            (out.stdout or out.stderr).strip().splitlines()[0]
            if (out.stdout or out.stderr).strip()
            else "?"
        )

    litellm_python = REPO_ROOT / ".venv-litellm" / "bin" / "python"
    return {
        "litellm": first_line(
            [
                str(litellm_python),
                "-c",
                "import importlib.metadata as m; print(m.version('litellm'))",
            ]
        ),
        "redis": first_line(["redis-server", "--version"]),
        "wrk": first_line(["wrk", "-v"]),
        "postgresql": first_line([str(setups_pg_bin() / "postgres"), "--version"]),
    }


def setups_pg_bin() -> Path:
    from stacklib import postgresql_bin_dir

    return postgresql_bin_dir()


if __name__ == "__main__":
    main()
