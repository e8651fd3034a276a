"""A check's registration and the helpers the checks share.

Each check is a function ``check_x(ctx) -> CheckResult`` registered in its group with
:meth:`CheckGroup.check`, which makes it safe: any exception becomes a *fail* with a one-line
reason and a hint of what to look at next.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.context import NO_SYSTEMD, Context
from tappaas_litellm.verify.result import (
    CheckFailedError,
    CheckResult,
    CheckSkippedError,
    failed,
    skipped,
)

CheckFunction = Callable[[Context], CheckResult]


@dataclass(frozen=True)
class Check:
    """A registered check: its name (for ``--only``), title and install-guide reference."""

    name: str
    title: str
    guide: str
    function: CheckFunction


class CheckGroup:
    """The checks of one group of the install guide, in the order they run."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def check(
        self, name: str, title: str, guide: str = ""
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Register a check and make it safe: it returns a result, whatever happens inside."""

        def decorate(function: CheckFunction) -> CheckFunction:
            safe = _safe(name, title, function)
            self.checks[name] = Check(name, title, guide, safe)
            return safe

        return decorate


def _safe(name: str, title: str, function: CheckFunction) -> CheckFunction:
    """The check, made to return a result whatever happens inside, named and on one line."""

    @functools.wraps(function)
    def safe(ctx: Context) -> CheckResult:
        started = time.monotonic()
        try:
            result = function(ctx)
        except CheckFailedError as exc:
            result = failed(exc.reason, exc.hint, exc.evidence)
        except CheckSkippedError as exc:
            result = skipped(exc.reason, exc.evidence)
        except Exception as exc:
            result = failed(
                f"the check itself broke: {type(exc).__name__}: {exc}",
                "re-run with --json FILE and report the evidence",
                traceback.format_exc(),
            )
        reason = " ".join(result.reason.split())  # always one line
        if len(reason) > 500:
            reason = reason[:497] + "..."
        result = replace(
            result,
            name=name,
            title=title,
            reason=reason,
            duration=time.monotonic() - started,
        )
        return result.redacted(ctx.secrets)

    return safe


def require_systemd(ctx: Context) -> None:
    if not ctx.transport.has_systemd:
        raise CheckSkippedError(NO_SYSTEMD)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def human_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def systemd_show(ctx: Context, unit: str, *properties: str) -> dict[str, str]:
    result = ctx.run(shell_commands.systemctl_show(unit, properties))
    if not result.ok:
        raise CheckFailedError(f"systemctl show {unit} failed: {result.why()}", "", result.stderr)
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name] = value
    return values
