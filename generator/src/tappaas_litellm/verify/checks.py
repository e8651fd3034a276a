"""The checks: the install guide's verification tests and validation checklist.

Each check is a function ``check_x(ctx) -> CheckResult`` that never raises: any
exception or timeout becomes a *fail* with a one-line reason and a hint of what to
look at next. :func:`run_checks` runs them in order through a transport. The checks
themselves live in one module per group of the install guide (``checks_*.py``).

    from tappaas_litellm.verify import MachineTransport, Target, run_checks
    results = run_checks(MachineTransport(machine), Target())
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tappaas_litellm.verify import (
    checks_api,
    checks_backups,
    checks_health,
    checks_logs_resources,
    checks_machine,
    checks_stores,
)
from tappaas_litellm.verify.checks_machine import check_connection
from tappaas_litellm.verify.context import Context
from tappaas_litellm.verify.registry import Check
from tappaas_litellm.verify.result import CheckResult, Status
from tappaas_litellm.verify.target import Target
from tappaas_litellm.verify.transport import Transport

#: Every check, in the order of the install guide.
CHECKS: dict[str, Check] = {
    name: item
    for group in (
        checks_machine,
        checks_health,
        checks_stores,
        checks_api,
        checks_backups,
        checks_logs_resources,
    )
    for name, item in group.GROUP.checks.items()
}


def check_names() -> list[str]:
    """All check names, in the order they run."""
    return list(CHECKS)


def select_checks(only: Iterable[str] | None = None) -> list[Check]:
    """The checks to run; ``only`` names a subset (comma-separated names allowed)."""
    if not only:
        return list(CHECKS.values())
    wanted: list[str] = []
    for item in only:
        wanted += [name.strip() for name in item.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return [c for c in CHECKS.values() if c.name in wanted]


def run_checks(
    transport: Transport,
    target: Target | None = None,
    only: Sequence[str] | None = None,
    on_result: Callable[[CheckResult], Any] | None = None,
) -> list[CheckResult]:
    """Run the checks (all, or ``only`` these) and return their results in order.

    ``connection`` always runs first; when it fails the other checks are reported as
    failed without running (one clear reason instead of a dozen timeouts).
    """
    ctx = Context(transport, target or Target())
    selected = select_checks(only)
    results: list[CheckResult] = []

    def emit(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    first = check_connection(ctx)
    emit(first)
    for item in selected:
        if item.name == "connection":
            continue
        if first.failed:
            emit(
                CheckResult(
                    item.name,
                    Status.FAIL,
                    "not run: no connection (see 'connection')",
                    title=item.title,
                )
            )
            continue
        emit(item.function(ctx))
    return results


def summary_text(results: Sequence[CheckResult]) -> str:
    """Plain text, one line per check (plus hints of failures): for logs and assertions."""
    lines = []
    for result in results:
        lines.append(f"{result.status.value.upper():<4}  {result.name:<16} {result.reason}")
        if result.failed and result.hint:
            lines.append(f"      next: {result.hint}")
    return "\n".join(lines)


def assert_passed(results: Sequence[CheckResult], allow_skip: Iterable[str] = ()) -> None:
    """Raise AssertionError (with every line) when a check failed or skipped unexpectedly.

    For NixOS VM tests::

        results = run_checks(MachineTransport(machine), Target())
        assert_passed(results, allow_skip=["backup-age"])
    """
    allowed = set(allow_skip)
    bad = [r for r in results if r.failed or (r.skipped and r.name not in allowed)]
    if bad:
        names = ", ".join(f"{r.name} ({r.status.value})" for r in bad)
        raise AssertionError(f"verify: {names}\n{summary_text(results)}")
