"""The shell commands the checks run on the gateway's machine, built from settings.

Every value (a unit, a path, a container name, SQL, a Redis argument) passes through
:mod:`tappaas_litellm.common.shell`, so it arrives as one word and runs nothing; a test feeds
arbitrary strings through each builder and runs the result with bash.
"""

from __future__ import annotations

from collections.abc import Sequence

from tappaas_litellm.common.shell import join, quote

__all__ = [
    "MISSING",
    "backup_dirs",
    "cat_file",
    "directory_exists",
    "disk_free",
    "disk_usage",
    "journal_count",
    "journal_errors",
    "journal_tail",
    "newest_file",
    "podman_stats",
    "psql",
    "redis_cli",
    "stat_file",
    "systemctl_is_active",
    "systemctl_show",
]

#: First field of a backup_dirs line for a path that does not exist.
MISSING = "missing"


def systemctl_show(unit: str, properties: Sequence[str]) -> str:
    return f"systemctl show --no-pager -p {quote(','.join(properties))} -- {quote(unit)}"


def systemctl_is_active(units: Sequence[str]) -> str:
    return "systemctl is-active -- " + join(units)


def journal_tail(unit: str, lines: int, *, output: str | None = None) -> str:
    command = f"journalctl --no-pager -q -u {quote(unit)} -n {int(lines)}"
    return command + (f" -o {quote(output)}" if output else "")


def journal_count(unit: str) -> str:
    """Lines the unit logged since boot."""
    return f"journalctl --no-pager -q -b -u {quote(unit)} -o cat | wc -l"


def journal_errors(unit: str) -> str:
    """Error lines (LiteLLM's JSON level ERROR/CRITICAL, or a traceback) in the last hour."""
    pattern = '"level": ?"(ERROR|CRITICAL)"|Traceback'
    return (
        f"journalctl --no-pager -q -u {quote(unit)} --since -1h -o cat "
        f"| grep -c -i -E {quote(pattern)} || true"
    )


def cat_file(path: str) -> str:
    return f"cat -- {quote(path)}"


def stat_file(path: str) -> str:
    """``MODE OWNER GROUP SIZE`` of a file."""
    return f"stat -c '%a %U %G %s' -- {quote(path)}"


def backup_dirs(paths: Sequence[str]) -> str:
    """One line per path: ``TYPE|MODE|OWNER|PATH``, or ``missing|||PATH``."""
    return " ; ".join(
        f"stat -c '%F|%a|%U|%n' -- {quote(path)} 2>/dev/null "
        f"|| printf '%s\\n' {quote(f'{MISSING}|||{path}')}"
        for path in paths
    )


def directory_exists(path: str) -> str:
    return f"test -d {quote(path)}"


def newest_file(folder: str, pattern: str) -> str:
    """``MTIME SIZE NAME`` of the newest file matching `pattern`; exit 3 without the folder."""
    return (
        f"test -d {quote(folder)} || {{ echo 'missing folder' >&2; exit 3; }}; "
        f"find {quote(folder)} -maxdepth 1 -type f -name {quote(pattern)} "
        "-printf '%T@ %s %f\\n' | sort -n | tail -n 1"
    )


def disk_free(path: str) -> str:
    return f"df -Pk -- {quote(path)} | tail -n 1"


def disk_usage(path: str) -> str:
    """KiB below `path`."""
    return f"du -sk -- {quote(path)} 2>/dev/null | cut -f1"


def podman_stats(template: str, container: str) -> str:
    return f"podman stats --no-stream --format {quote(template)} -- {quote(container)}"


def psql(
    sql: str,
    database: str,
    *,
    host: str | None = None,
    port: int = 5432,
    user: str = "postgres",
    password_on_stdin: bool = False,
) -> str:
    """psql, unaligned and tuples only: through the local socket as the ``postgres`` OS user
    (``host`` None), else over TCP; a password is read from the first line of stdin."""
    args = f"psql -X -q -v ON_ERROR_STOP=1 -tA -F '|' -d {quote(database)} -c {quote(sql)}"
    if host is None:
        return f"runuser -u postgres -- {args}"
    args += f" -h {quote(host)} -p {int(port)} -U {quote(user)}"
    if password_on_stdin:
        return f"IFS= read -r PGPASSWORD; export PGPASSWORD PGCONNECT_TIMEOUT=5; {args}"
    return f"PGCONNECT_TIMEOUT=5 {args}"


def redis_cli(host: str, port: int, args: Sequence[str]) -> str:
    """redis-cli; the password (possibly empty) is read from the first line of stdin."""
    return (
        'IFS= read -r REDISCLI_AUTH || true; [ -n "$REDISCLI_AUTH" ] && export REDISCLI_AUTH '
        "|| unset REDISCLI_AUTH; "
        f"redis-cli --no-auth-warning -h {quote(host)} -p {int(port)} " + join(args)
    )
