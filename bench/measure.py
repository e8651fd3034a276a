"""Measurements: wrk runs, the proxy's processes and their memory, backup and restore timings."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk.lua"


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadResult:
    setup: str
    connections: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    cpu_ms_per_request: float  # CPU time of the server's processes per request

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def wrk(
    setup: str,
    base_url: str,
    path: str,
    key: str,
    model: str,
    connections: int,
    seconds: float,
    mode: str = "unique",
    pgid: int | None = None,
) -> LoadResult:
    """One wrk run against base_url+path; every request a new prompt unless mode is "same".
    With pgid, the CPU time the server's process group used during the run is recorded."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk not found (apt-get install wrk, or bash dev/setup all)")
    threads = 1 if connections == 1 else 2
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        base_url,
        "--",
        path,
        key,
        model,
        mode,
    ]
    ticks_before = cpu_ticks(group_pids(pgid)) if pgid else 0
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90, check=False)
    ticks = cpu_ticks(group_pids(pgid)) - ticks_before if pgid else 0
    line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    raw = json.loads(line)
    duration = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        setup=setup,
        connections=connections,
        seconds=round(duration, 2),
        requests=raw["requests"],
        errors=errors,
        rps=round(raw["requests"] / duration, 1) if duration else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 2),
        cpu_ms_per_request=round(ticks * 1000 / os.sysconf("SC_CLK_TCK") / raw["requests"], 2)
        if raw["requests"]
        else 0.0,
    )


def timed_completions(
    base_url: str, key: str, model: str, prompts: list[str], timeout: float = 60
) -> list[float]:
    """Latencies (ms) of one completion per prompt, one after the other."""
    latencies: list[float] = []
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        for prompt in prompts:
            started = time.perf_counter()
            response = client.post(
                "/chat/completions",
                headers={"Authorization": f"Bearer {key}"},
                json={"model": model, "messages": [{"role": "user", "content": prompt}]},
            )
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"completion failed: {response.status_code} {response.text}")
    return latencies


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


# --------------------------------------------------------------------------------------------
# processes and memory
# --------------------------------------------------------------------------------------------
def group_pids(pgid: int) -> list[int]:
    """Processes of the process group pgid (the proxy was started in its own session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return sorted(pids)


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def wait_settled(pgid: int, processes: int, timeout: float = 180) -> float:
    """Wait until `processes` workers exist and the group uses under 10 % of a core for a
    second (every worker has finished starting); returns the seconds waited."""
    started = time.monotonic()
    hz = os.sysconf("SC_CLK_TCK")
    while time.monotonic() - started < timeout:
        pids = group_pids(pgid)
        if len(worker_pids(pgid, pids)) >= processes:
            before = cpu_ticks(pids)
            time.sleep(1)
            if (cpu_ticks(pids) - before) / hz < 0.1:
                return time.monotonic() - started
        else:
            time.sleep(0.5)
    raise TimeoutError(f"the proxy's {processes} workers did not settle in {timeout:.0f} s")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(pgid: int, pids: list[int] | None = None) -> list[int]:
    """uvicorn's worker processes; with one worker the main process serves itself."""
    pids = group_pids(pgid) if pids is None else pids
    spawned = [p for p in pids if "multiprocessing.spawn" in cmdline(p)]
    return spawned or [pgid]


@dataclass(frozen=True)
class Memory:
    rss_mib: float
    pss_mib: float


def memory(pid: int) -> Memory:
    """Resident (RSS) and proportional (PSS: shared pages split between sharers) memory."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1]) / 1024
    return Memory(round(values["Rss:"], 1), round(values["Pss:"], 1))


def group_memory(pgid: int) -> dict[str, list[Memory]]:
    """{"workers": [...], "other": [...]} (other: uvicorn's supervisor, resource trackers)."""
    pids = group_pids(pgid)
    workers = worker_pids(pgid, pids)
    result: dict[str, list[Memory]] = {"workers": [], "other": []}
    for pid in pids:
        try:
            result["workers" if pid in workers else "other"].append(memory(pid))
        except (OSError, KeyError):
            continue
    return result
