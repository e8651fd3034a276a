"""The install guide's Test 8 and the checklist's backups: folders, timers, age, disk space.

See :mod:`tappaas_litellm.verify.checks` for how checks run.
"""

from __future__ import annotations

import time

from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.context import Context
from tappaas_litellm.verify.registry import (
    CheckGroup,
    human_age,
    human_bytes,
    require_systemd,
    systemd_show,
)
from tappaas_litellm.verify.result import CheckFailedError, CheckResult, failed, passed, skipped
from tappaas_litellm.verify.target import BACKUP_KINDS, Target

GROUP = CheckGroup()
check = GROUP.check

#: Backup file name patterns (see the module's backup scripts).
BACKUP_PATTERNS: dict[str, str] = {
    "postgresql": "litellm-*.dump",
    "redis": "redis-*.rdb",
    "litellm-env": "litellm-env-*.tar.gz",
}
#: Tables the LiteLLM Prisma migrations create (a small, stable core).


# --- test 8: backups --------------------------------------------------------------------


def _backup_dirs(target: Target) -> list[tuple[str, str]]:
    root = target.backup_root.rstrip("/") or "/"
    return [("", root)] + [(kind, f"{root}/{kind}") for kind in BACKUP_KINDS]


@check("backup-dirs", "Backup directories created", "Test 8")
def check_backup_dirs(ctx: Context) -> CheckResult:
    dirs = _backup_dirs(ctx.target)
    result = ctx.run(shell_commands.backup_dirs([path for _, path in dirs]), root=True)
    lines = [line.split("|", 3) for line in result.stdout.splitlines() if line.count("|") >= 3]
    if len(lines) != len(dirs):
        raise CheckFailedError(
            f"cannot inspect {ctx.target.backup_root}: {result.why()}",
            "",
            result.stdout + result.stderr,
        )
    problems: list[str] = []
    owners = ctx.target.backup_owners
    for (kind, path), (ftype, mode, owner, _) in zip(dirs, lines, strict=True):
        if ftype == "missing":
            problems.append(f"{path} missing")
        elif ftype != "directory":
            problems.append(f"{path} is a {ftype}")
        else:
            if mode != "700":
                problems.append(f"{path} mode {mode}, expected 700")
            if owners is not None and kind in owners and owner != owners[kind]:
                problems.append(f"{path} owner {owner}, expected {owners[kind]}")
    evidence = result.stdout.strip()
    if lines[0][0] == "missing":
        problems = [f"{dirs[0][1]} missing"]
    if problems:
        return failed(
            "; ".join(problems),
            "the folders come from systemd-tmpfiles: sudo systemd-tmpfiles --create; "
            "sudo ls -la " + ctx.target.backup_root,
            evidence,
        )
    return passed(
        f"{ctx.target.backup_root} with {', '.join(BACKUP_KINDS)} (all mode 700)", evidence
    )


@check("backup-timers", "Backup timers scheduled", "Test 8")
def check_backup_timers(ctx: Context) -> CheckResult:
    require_systemd(ctx)
    listing = ctx.run("systemctl list-timers --all --no-pager --no-legend")
    if not listing.ok:
        raise CheckFailedError(f"systemctl list-timers failed: {listing.why()}", "", listing.stderr)
    backup_lines = [line for line in listing.stdout.splitlines() if "backup" in line]
    problems: list[str] = []
    evidence_lines: list[str] = []
    nexts: list[str] = []
    for kind in BACKUP_KINDS:
        timer = f"litellm-backup-{kind}.timer"
        props = systemd_show(
            ctx, timer, "ActiveState", "NextElapseUSecRealtime", "LastTriggerUSec", "Persistent"
        )
        evidence_lines.append(f"{timer}: " + ", ".join(f"{k}={v}" for k, v in props.items()))
        if props.get("ActiveState") != "active":
            problems.append(f"{timer} is {props.get('ActiveState') or 'unknown'}")
            continue
        if props.get("Persistent") not in (None, "yes"):
            problems.append(f"{timer} is not Persistent (missed runs are not caught up)")
        nexts.append(f"{kind} {props.get('NextElapseUSecRealtime') or '?'}")
    evidence = "\n".join([*evidence_lines, "--- list-timers | grep backup", *backup_lines])
    if problems:
        first = f"litellm-backup-{BACKUP_KINDS[0]}.timer"
        return failed(
            "; ".join(problems),
            f"sudo systemctl list-timers --all | grep backup; sudo systemctl status {first}",
            evidence,
        )
    return passed(
        f"{len(BACKUP_KINDS)} timers active ({len(backup_lines)} backup timers listed); next: "
        + "; ".join(nexts),
        evidence,
    )


def _newest_backup(
    ctx: Context, kind: str, now: float, limit: float
) -> tuple[str, list[str], list[str]]:
    """State of one backup kind: ("ok" | "none" | "bad", problems, evidence lines)."""
    root = ctx.target.backup_root.rstrip("/") or "/"
    folder = f"{root}/{kind}"
    pattern = BACKUP_PATTERNS[kind]
    service = f"litellm-backup-{kind}.service"
    evidence: list[str] = []
    problems: list[str] = []
    last_run: dict[str, str] = {}
    if ctx.transport.has_systemd:
        last_run = systemd_show(ctx, service, "Result", "ExecMainStartTimestamp")
        evidence.append(f"{service}: " + ", ".join(f"{k}={v}" for k, v in last_run.items()))
        if last_run.get("Result", "success") != "success":
            problems.append(f"last {service} run: {last_run['Result']}")
    listing = ctx.run(shell_commands.newest_file(folder, pattern), root=True)
    if listing.rc == 3:
        return "bad", [*problems, f"{folder} missing"], evidence
    if not listing.ok:
        return "bad", [*problems, f"cannot list {folder}: {listing.why()}"], evidence
    newest = listing.stdout.strip()
    if not newest:
        evidence.append(f"{folder}: no {pattern}")
        if last_run.get("ExecMainStartTimestamp"):
            problems.append(f"{service} ran but {folder} has no {pattern}")
        return ("bad" if problems else "none"), problems, evidence
    stamp, size, name = [*newest.split(" ", 2), "", ""][:3]
    age = now - float(stamp)
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(stamp)))
    evidence.append(f"{folder}/{name}: {size} bytes, {when}")
    if int(size or 0) == 0:
        problems.append(f"{name} is empty")
    elif age > limit:
        problems.append(f"newest {kind} backup is {human_age(age)} old ({name})")
    if problems:
        return "bad", problems, evidence
    return "ok", [f"{kind} {human_age(age)} ago ({human_bytes(float(size))})"], evidence


@check("backup-age", "Last backup recent")
def check_backup_age(ctx: Context) -> CheckResult:
    """The newest backup of each kind exists, is not empty and is younger than the limit.

    Before the first scheduled run (fresh VM) there are no backups: that is a skip,
    unless systemd says a backup service already ran or failed.
    """
    root = ctx.target.backup_root
    exists = ctx.run(shell_commands.directory_exists(root), root=True)
    if exists.rc == 1:
        return failed(
            f"{root} missing",
            "the folders come from systemd-tmpfiles: sudo systemd-tmpfiles --create",
        )
    now_result = ctx.run("date +%s")
    stamp = now_result.stdout.strip()
    now = float(stamp) if now_result.ok and stamp.isdigit() else time.time()
    limit = ctx.target.backup_max_age_hours * 3600
    problems: list[str] = []
    notes: list[str] = []
    never: list[str] = []
    failing: list[str] = []
    evidence: list[str] = []
    for kind in BACKUP_KINDS:
        state, lines, shown = _newest_backup(ctx, kind, now, limit)
        evidence += shown
        if state == "bad":
            problems += lines
            failing.append(kind)
        elif state == "none":
            never.append(kind)
        else:
            notes += lines
    text = "\n".join(evidence)
    if problems:
        first = failing[0]
        return failed(
            "; ".join(problems),
            f"sudo journalctl -u litellm-backup-{first} -n 50; run one now: "
            f"sudo systemctl start litellm-backup-{first}",
            text,
        )
    if not notes:
        return skipped(
            "no backups yet (they run at the timers' schedule; start one now with "
            "sudo systemctl start litellm-backup-postgresql)",
            text,
        )
    reason = "newest: " + "; ".join(notes)
    if never:
        reason += "; none yet for " + ", ".join(never)
    return passed(reason, text)


@check("disk-space", "Disk space left for backups")
def check_disk_space(ctx: Context) -> CheckResult:
    root = ctx.target.backup_root
    df = ctx.run(shell_commands.disk_free(root), root=True)
    fields = df.stdout.split()
    if not df.ok or len(fields) < 6:
        return failed(
            f"cannot measure free space at {root}: {df.why()}",
            "sudo ls -la " + root + "; sudo df -h",
            df.stdout + df.stderr,
        )
    avail = int(fields[3]) * 1024
    used_percent = int(fields[4].rstrip("%") or 0)
    usage = ctx.run(shell_commands.disk_usage(root), root=True)
    backups = int(usage.stdout.strip()) * 1024 if usage.stdout.strip().isdigit() else 0
    need = ctx.target.min_free_mib * 1024 * 1024
    evidence = f"{df.stdout.strip()}\nbackups use {human_bytes(backups)}"
    text = (
        f"{human_bytes(avail)} free on {fields[5]} ({used_percent}% used), "
        f"backups use {human_bytes(backups)}"
    )
    if used_percent >= ctx.target.max_used_percent or avail < need:
        return failed(
            f"low disk space: {text}; need at least {human_bytes(need)} free and "
            f"< {ctx.target.max_used_percent}% used",
            f"sudo du -sh {root}/*; lower backup.retentionDays or grow the disk (Proxmox)",
            evidence,
        )
    return passed(text, evidence)
