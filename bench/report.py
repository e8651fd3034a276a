"""The benchmark's results as Markdown, JSON and a PNG plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ORDER = ("upstream", "guide", "defaults", "module", "floor")
LABELS = {
    "upstream": "the upstream alone",
    "guide": "the install guide's",
    "defaults": "LiteLLM's defaults",
    "module": "this module's",
    "floor": "this module's without Redis",
}
GATEWAYS = ("guide", "defaults", "module", "floor")


def _by(results: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["setup"], r["connections"]): r for r in results["load"]}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def missing_numbers(results: dict[str, Any], parts: set[str]) -> list[str]:
    """What a run should have measured but did not (no speed is judged)."""
    problems = [f"{part}: {error}" for part, error in results.get("errors", {}).items()]
    by = _by(results)
    for name in ORDER:
        if name not in parts:
            continue
        for connections in results["connections"]:
            row = by.get((name, connections))
            if row is None:
                problems.append(f"{name} at {connections} connections: no result")
                continue
            if row["requests"] - row["errors"] <= 0:
                problems.append(f"{name} at {connections} connections: no successful request")
            for key in ("rps", "p50_ms", "p95_ms", "p99_ms"):
                if not isinstance(row[key], (int, float)) or math.isnan(row[key]) or row[key] <= 0:
                    problems.append(f"{name} at {connections} connections: no {key}")
        if name != "upstream":
            memory = results["memory"].get(name, {})
            for phase in ("idle", "loaded"):
                if not memory.get(phase, {}).get("workers"):
                    problems.append(f"{name}: no {phase} memory of its workers")
    if "module" in parts:
        cache = results.get("cache") or {}
        for key in ("miss_p50_ms", "hit_p50_ms"):
            if not cache.get(key):
                problems.append(f"cache: no {key}")
    if "backup" in parts:
        b = results.get("backup") or {}
        if not b or not b.get("dump_mib") or b.get("rows_after_restore") != b.get("rows"):
            problems.append(f"backup: incomplete {b}")
    return problems


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = results["versions"]
    by = _by(results)
    lines = [
        f"# Benchmark {results['date']}{' (quick)' if results['quick'] else ''}",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_mib']} MiB, Linux {m['kernel']}; "
        f"load average before the run {', '.join(f'{x:.2f}' for x in m['load_before'])}. "
        f"LiteLLM {v['litellm']} (PyPI, with the image's extras proxy and proxy-runtime), "
        f"{v['redis']}, {v['wrk']}, {v['postgresql']}. "
        f"{results['seconds_per_run']:g} s per run after a warm-up; every request a new prompt "
        "(a cache miss); the fake upstream answers at once. "
        f"Whole run: {results.get('elapsed_s', 0):.0f} s.",
        "",
        "Workers: " + ", ".join(f"{LABELS[k]} {n}" for k, n in results["workers"].items()) + ".",
        "",
        "## Gateway cost",
        "",
        "| connections | configuration | requests/s | p50 ms | p95 ms | p99 ms | errors "
        "| CPU ms/request | req/s vs upstream | req/s vs guide | p99 vs guide |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for connections in results["connections"]:
        guide = by.get(("guide", connections))
        upstream = by.get(("upstream", connections))
        for name in ORDER:
            row = by.get((name, connections))
            if row is None:
                continue
            lines.append(
                f"| {connections} | {LABELS[name]} | {row['rps']:.0f} | {row['p50_ms']:.1f} "
                f"| {row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} "
                f"| {row['cpu_ms_per_request']:.1f} "
                f"| {_ratio(row['rps'], upstream['rps']) if upstream else '-'} "
                f"| {_ratio(row['rps'], guide['rps']) if guide else '-'} "
                f"| {_ratio(row['p99_ms'], guide['p99_ms']) if guide else '-'} |"
            )
    lines += ["", *verdict(results), ""]
    if results.get("cache"):
        c = results["cache"]
        lines += [
            "## Cache (this module's configuration, Redis)",
            "",
            f"Upstream delay {c['upstream_delay_ms']:.0f} ms; {c['requests']} new prompts, "
            "one after the other, then the same prompts again.",
            "",
            "| | p50 ms | max ms | requests that reached the upstream |",
            "|---|---|---|---|",
            f"| miss | {c['miss_p50_ms']} | {c['miss_max_ms']} | {c['upstream_requests_misses']} |",
            f"| hit | {c['hit_p50_ms']} | {c['hit_max_ms']} | {c['upstream_requests_hits']} |",
            "",
        ]
    if results.get("memory"):
        lines += [
            "## Memory per process (MiB)",
            "",
            "RSS counts shared pages in every process; PSS divides them between the processes "
            "that share them. No database here: on the VM every worker also runs a Prisma query "
            "engine.",
            "",
            "| configuration | workers | worker RSS idle | worker RSS after load "
            "| worker PSS after load | other processes RSS |",
            "|---|---|---|---|---|---|",
        ]
        for name, mem in results["memory"].items():
            idle = mem["idle"]["workers"]
            loaded = mem["loaded"]["workers"]
            other = mem["loaded"]["other"]
            lines.append(
                f"| {LABELS[name]} | {len(loaded)} | {_spread(idle, 'rss_mib')} "
                f"| {_spread(loaded, 'rss_mib')} | {_spread(loaded, 'pss_mib')} "
                f"| {_spread(other, 'rss_mib') if other else '-'} |"
            )
        lines.append("")
    if results.get("log_bytes"):
        lines += [
            "Log written during the run (stdout/stderr, what journald would store): "
            + ", ".join(f"{LABELS[k]} {v / 2**20:.1f} MiB" for k, v in results["log_bytes"].items())
            + ".",
            "",
        ]
    if results.get("backup"):
        b = results["backup"]
        lines += [
            "## Backup and restore (PostgreSQL, the module's scripts)",
            "",
            f"A `LiteLLM_SpendLogs` table of {b['rows']:,} rows ({b['table_mib']} MiB with "
            f"indexes; filled in {b['fill_s']} s). The test server runs with fsync off.",
            "",
            "| step | seconds | size MiB |",
            "|---|---|---|",
            f"| `litellm-backup-postgresql` (`pg_dump -Fc`, then `pg_restore --list`) "
            f"| {b['dump_s']} | {b['dump_mib']} |",
            f"| `litellm-restore --postgresql FILE --confirm` (one transaction) "
            f"| {b['restore_s']} | - |",
            "",
            f"Rows after the restore: {b['rows_after_restore']:,}.",
            "",
        ]
    return "\n".join(lines)


def verdict(results: dict[str, Any]) -> list[str]:
    by = _by(results)
    out = []
    for connections in results["connections"]:
        module, guide = by.get(("module", connections)), by.get(("guide", connections))
        if not module or not guide or not guide["rps"]:
            continue
        rps = module["rps"] / guide["rps"]
        p99 = module["p99_ms"] / guide["p99_ms"] if guide["p99_ms"] else float("nan")
        goal = "met" if rps >= 2 and p99 <= 1 else "not met"
        out.append(
            f"At {connections} connections this module's configuration serves {rps:.2f}x the "
            f"guide's requests/s with {p99:.2f}x its p99 (goal: at least 2x with p99 no "
            f"worse: {goal})."
        )
    out += ceiling(results)
    return out


def ceiling(results: dict[str, Any]) -> list[str]:
    """The most any configuration could gain over the guide on the same cores: once the cores
    are busy, requests/s is CPU time over CPU time per request, so the guide's CPU per request
    over the cheapest configuration's bounds the ratio."""
    rows = [r for r in results["load"] if r["setup"] in GATEWAYS and r["cpu_ms_per_request"] > 0]
    guide = [r["cpu_ms_per_request"] for r in rows if r["setup"] == "guide"]
    if not guide or not rows:
        return []
    cheapest = min(rows, key=lambda r: r["cpu_ms_per_request"])
    low, high = min(guide), max(guide)
    return [
        "",
        "The least CPU per request any configuration needed was "
        f"{cheapest['cpu_ms_per_request']:.1f} ms ({LABELS[cheapest['setup']]}, "
        f"{cheapest['connections']} connections); the guide's "
        f"was {low:.1f} to {high:.1f} ms. With the cores busy, no configuration of LiteLLM "
        f"{results['versions']['litellm']} can serve more than about "
        f"{high / cheapest['cpu_ms_per_request']:.2f}x the guide's requests/s on the same cores.",
    ]


def _spread(items: list[dict[str, float]], key: str) -> str:
    values = [i[key] for i in items]
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{lo:.0f}" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f}"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = _by(results)
    names = [n for n in ORDER if any(s == n for s, _ in by)]
    conns = results["connections"]
    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        xs = [j + i * width for j in range(len(conns))]
        rows = [by.get((name, c)) for c in conns]
        ax_rps.bar(xs, [r["rps"] if r else 0 for r in rows], width, label=LABELS[name])
        p50 = [r["p50_ms"] if r else 0 for r in rows]
        p99 = [r["p99_ms"] if r else 0 for r in rows]
        ax_lat.bar(xs, p99, width, label=f"{LABELS[name]} p99", alpha=0.35, color=f"C{i}")
        ax_lat.bar(xs, p50, width, label=f"{LABELS[name]} p50", color=f"C{i}")
    for ax in (ax_rps, ax_lat):
        ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(conns))])
        ax.set_xticklabels([f"{c} conn." for c in conns])
    ax_rps.set_yscale("log")
    ax_rps.set_ylabel("requests/s (log)")
    ax_rps.set_title("throughput")
    ax_rps.legend(fontsize=8)
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("latency ms (log): p50 solid, p99 light")
    ax_lat.set_title("latency")
    m = results["machine"]
    fig.suptitle(
        f"LiteLLM {results['versions']['litellm']}, fake upstream, wrk; "
        f"{m['cores']} cores, {results['date']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], out: Path, stamp: str) -> list[Path]:
    md, js, png = out / f"{stamp}.md", out / f"{stamp}.json", out / f"{stamp}.png"
    js.write_text(json.dumps(results, indent=2) + "\n")
    written = [js]
    if results["load"]:
        plot(results, png)
        written.append(png)
        text = markdown(results) + f"\n![throughput and latency]({png.name})\n"
    else:
        text = markdown(results)
    md.write_text(text)
    return [md, *written]
