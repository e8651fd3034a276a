"""The install guide's Tests 9 and 10: logs, resource usage.

See :mod:`tappaas_litellm.verify.checks` for how checks run.
"""

from __future__ import annotations

import re

from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.context import Context
from tappaas_litellm.verify.registry import CheckGroup, human_bytes, require_systemd
from tappaas_litellm.verify.result import CheckResult, failed, passed

GROUP = CheckGroup()
check = GROUP.check


# --- test 9: logs -----------------------------------------------------------------------


@check("logs", "Logs accessible", "Test 9")
def check_logs(ctx: Context) -> CheckResult:
    require_systemd(ctx)
    counts: list[str] = []
    problems: list[str] = []
    evidence_lines: list[str] = []
    for unit in ctx.target.log_units:
        result = ctx.run(shell_commands.journal_count(unit), root=True)
        lines = result.stdout.strip()
        if not result.ok or not lines.isdigit():
            problems.append(f"journalctl -u {unit} failed: {result.why()}")
        elif lines == "0":
            problems.append(f"no log lines from {unit} since boot")
        else:
            counts.append(f"{unit} {lines}")
    main_unit = ctx.target.log_units[0] if ctx.target.log_units else "podman-litellm"
    errors = ctx.run(shell_commands.journal_errors(main_unit), root=True)
    error_count = errors.stdout.strip() or "?"
    recent = ctx.run(shell_commands.journal_tail(main_unit, 5, output="short-iso"), root=True)
    evidence_lines.append(f"--- last lines of {main_unit}\n{recent.stdout.strip()}")
    evidence = "\n".join(evidence_lines)
    if problems:
        return failed("; ".join(problems), "sudo journalctl -u " + main_unit + " -n 50", evidence)
    return passed(
        "journal lines since boot: "
        + ", ".join(counts)
        + f"; {error_count} error lines from {main_unit} in the last hour",
        evidence,
    )


# --- test 10: resources -----------------------------------------------------------------


def _meminfo(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"(\w+):\s+(\d+)", line)
        if match:
            values[match.group(1)] = int(match.group(2)) * 1024
    return values


@check("resources", "Resource usage normal", "Test 10")
def check_resources(ctx: Context) -> CheckResult:
    notes: list[str] = []
    problems: list[str] = []
    evidence: list[str] = []
    mem = ctx.run("cat /proc/meminfo")
    info = _meminfo(mem.stdout)
    total, available = info.get("MemTotal", 0), info.get("MemAvailable", 0)
    if total:
        notes.append(f"memory {human_bytes(available)} of {human_bytes(total)} available")
        if available < total * 0.10:
            problems.append(f"only {human_bytes(available)} memory available")
        swap_total, swap_free = info.get("SwapTotal", 0), info.get("SwapFree", 0)
        if swap_total and swap_total - swap_free > swap_total * 0.5:
            problems.append(f"swap {human_bytes(swap_total - swap_free)} used")
    else:
        evidence.append(f"/proc/meminfo unreadable: {mem.why()}")
    disk = ctx.run("df -Pk / | tail -n 1")
    fields = disk.stdout.split()
    if disk.ok and len(fields) >= 5:
        used = int(fields[4].rstrip("%") or 0)
        notes.append(f"/ {used}% used")
        if used >= ctx.target.max_used_percent:
            problems.append(f"root file system {used}% full")
        evidence.append(disk.stdout.strip())
    conns = ctx.psql("SELECT count(*), current_setting('max_connections') FROM pg_stat_activity;")
    parts = conns.stdout.strip().split("|")
    if conns.ok and len(parts) == 2 and all(p.isdigit() for p in parts):
        count, maximum = int(parts[0]), int(parts[1])
        notes.append(f"PostgreSQL connections {count}/{maximum}")
        if count >= maximum * 0.8:
            problems.append(f"PostgreSQL connections {count} of max {maximum}")
    else:
        problems.append(f"cannot count PostgreSQL connections: {conns.why()}")
    if ctx.transport.has_systemd:
        template = "{{.Name}} cpu={{.CPUPerc}} mem={{.MemUsage}}"
        stats = ctx.run(shell_commands.podman_stats(template, ctx.target.container), root=True)
        if stats.ok and stats.stdout.strip():
            notes.append("container " + stats.stdout.strip().split(" ", 1)[-1])
        else:
            problems.append(f"podman stats {ctx.target.container} failed: {stats.why()}")
    else:
        notes.append("container stats skipped (no podman on this transport)")
    evidence.append(mem.stdout.strip()[:400])
    if problems:
        return failed(
            "; ".join(problems),
            "free -h; df -h; sudo podman stats --no-stream litellm; "
            "sudo -u postgres psql -c 'SELECT count(*) FROM pg_stat_activity;'",
            "\n".join(notes + evidence),
        )
    return passed("; ".join(notes), "\n".join(evidence))
