"""The way back of `upgrade`: what a dry run shows, and what runs when a step fails.

After LiteLLM was stopped, a failed step rolls back: the pre-upgrade dump is restored first
when the schema migrations changed (LiteLLM migrates at start), then the VM switches back to
the generation it ran before, the site's image pin is put back, LiteLLM starts again and the
keys, generation and migrations are compared with the state before. Each step that fails says
what to run by hand, and the rest still run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tappaas_litellm.admin.image_pin import PIN_FILE, write_pin
from tappaas_litellm.admin.upgrade_helper import (
    DUMP_PLACEHOLDER,
    LONG,
    PG_STATE_DIR,
    RemoteError,
    VmState,
)
from tappaas_litellm.common.errors import StepError

if TYPE_CHECKING:
    from tappaas_litellm.admin.upgrade import Upgrade

__all__ = ["needs_restore", "roll_back", "rollback_plan"]


def needs_restore(kind: str, before: VmState, now: VmState | None) -> tuple[bool, str]:
    """Whether the rollback restores the pre-upgrade dump before switching back, and why.

    A PostgreSQL major upgrade never touched the old data directory: no restore. An image
    upgrade restores when LiteLLM's migrations differ from before, or cannot be read."""
    if kind == "postgresql":
        return False, f"the PostgreSQL {before.pg_major} data directory was not touched"
    if now is None or now.migrations == "unknown":
        return True, "the schema migrations cannot be read now"
    if now.migrations != before.migrations:
        return True, (
            f"the schema migrations changed ({before.migration_count()} before, "
            f"{now.migration_count()} now)"
        )
    return False, "the schema migrations are the same as before"


def rollback_plan(up: Upgrade) -> None:
    """What a dry run shows of the way back."""
    generation = "GENERATION"
    up.say("If a step after LiteLLM was stopped fails, the way back:")
    up.back("Stop LiteLLM")
    up.show(up.remote.display("stop"))
    up.back("Restore the pre-upgrade dump if the schema changed")
    up.show(up.remote.display("state"))
    if up.kind == "image":
        up.note("restore when the schema migrations differ from step 2's, or cannot be read:")
        up.show(up.remote.display("restore-dump", DUMP_PLACEHOLDER))
    else:
        up.note("no restore: the old PostgreSQL data directory is not touched")
    up.back("Switch back to GENERATION, the one before (when it is no longer current)")
    up.show(up.remote.display("switch-generation", generation, up.activation))
    up.show(up.remote.display("drop-generation", "FAILED_GENERATION"))
    if up.kind == "postgresql":
        up.back("Remove the guard's marker; set the new data directory aside")
        up.show(up.remote.display("pg-finish"))
        up.show(up.remote.display("pg-set-aside", "NEW_MAJOR"))
    if up.pin is not None:
        up.note(f"{up.pin.path} is written back to {up.pin.old.tag}")
    up.back("Start LiteLLM and wait until it is ready")
    up.show(up.remote.display("start"))
    up.show(up.wait.shown)
    up.back("Compare keys, generation and schema migrations with step 2's")
    up.show(up.remote.display("state"))


def _try(up: Upgrade, what: str, fn: Callable[[], object], by_hand: str) -> bool:
    """One step of the way back; a failure is reported with what to run by hand."""
    try:
        fn()
    except (StepError, RemoteError) as exc:
        message = exc.message if isinstance(exc, StepError) else str(exc)
        up.report.append(f"FAILED: {what}: {message}; by hand: {by_hand}")
        up.say(f"      failed: {message}")
        return False
    up.report.append(what)
    return True


def _call(up: Upgrade, *args: str, timeout: float = 120.0) -> dict[str, str]:
    up.show(up.remote.display(*args))
    return up.remote.call(*args, timeout=timeout)


def roll_back(up: Upgrade) -> None:
    """Every step of the way back, each tried even when one before failed."""
    assert up.before is not None
    before = up.before
    up.say("Rolling back")
    up.back("Stop LiteLLM")
    _try(up, "stopped LiteLLM", lambda: _call(up, "stop"), "sudo systemctl stop podman-litellm")

    up.back("Restore the pre-upgrade dump if the schema changed")
    try:
        now: VmState | None = VmState.parse(_call(up, "state", timeout=60))
    except RemoteError as exc:
        up.say(f"      cannot read the state: {exc}")
        now = None
    restore, why = needs_restore(up.kind, before, now)
    up.note(f"{'restore' if restore else 'no restore'}: {why}")
    if restore and up.dump:
        _try(
            up,
            f"restored {up.dump} ({why})",
            lambda: _call(up, "restore-dump", up.dump, timeout=LONG),
            f"sudo litellm-restore --postgresql {up.dump} --confirm",
        )
    elif not restore:
        up.report.append(f"no database restore: {why}")

    up.back(f"Switch back to generation {before.generation}")
    if now is not None and now.generation == before.generation:
        up.note(f"generation {before.generation} is still the current one")
        up.report.append(f"generation {before.generation} was still current")
    else:
        back = _try(
            up,
            f"switched back to generation {before.generation}",
            lambda: _call(up, "switch-generation", before.generation, up.activation, timeout=LONG),
            f"sudo nix-env --profile /nix/var/nix/profiles/system --switch-generation "
            f"{before.generation} && sudo /nix/var/nix/profiles/system/bin/"
            "switch-to-configuration switch",
        )
        failed = now.generation if now is not None else ""
        if back and failed and failed != before.generation:
            _try(
                up,
                f"deleted the failed generation {failed}",
                lambda: _call(up, "drop-generation", failed),
                f"sudo nix-env --profile /nix/var/nix/profiles/system "
                f"--delete-generations {failed}",
            )

    if up.kind == "postgresql":
        up.back("Remove the guard's marker; set the new data directory aside")
        _try(
            up,
            "removed the guard's marker",
            lambda: _call(up, "pg-finish"),
            f"sudo rm {PG_STATE_DIR}/.litellm-major-upgrade",
        )
        if up.new_major and up.new_major != before.pg_major:
            _try(
                up,
                f"set {PG_STATE_DIR}/{up.new_major} aside",
                lambda: up.note("kept: " + _call(up, "pg-set-aside", up.new_major).get("kept", "")),
                f"sudo mv {PG_STATE_DIR}/{up.new_major} {PG_STATE_DIR}/{up.new_major}.old",
            )

    if up.pin is not None and up.pin.written:
        try:
            if up.pin.existed:
                write_pin(up.pin.path, up.pin.old)
            else:  # the module's pin again: no site pin, as before
                up.pin.path.unlink()
                if up.pin.forget is not None:
                    up.pin.forget.run()
        except (OSError, StepError) as exc:
            up.report.append(
                f"FAILED: putting {up.pin.path} back: {exc}; by hand: "
                + (
                    f"write {up.pin.old.tag} back into it"
                    if up.pin.existed
                    else f"rm {up.pin.path} && git rm -q --cached --ignore-unmatch {up.pin.path}"
                )
            )
        else:
            up.pin.written = False
            up.report.append(
                f"{up.name} runs on {up.pin.old.tag} again ({PIN_FILE})"
                if not up.pin.existed
                else f"{up.pin.path} pins {up.pin.old.tag} again"
            )

    up.back("Start LiteLLM and wait until it is ready")
    started = _try(
        up, "started LiteLLM", lambda: _call(up, "start"), "sudo systemctl start podman-litellm"
    )
    if started:
        up.show(up.wait.shown)
        _try(up, "LiteLLM is ready", up.wait.run, "sudo journalctl -u podman-litellm -n 50")

    up.back("Compare with the state before the upgrade")
    try:
        after = VmState.parse(_call(up, "state", timeout=60))
    except RemoteError as exc:
        up.report.append(f"FAILED: cannot read the state after the rollback: {exc}")
    else:
        keys = "unchanged" if after.keys == before.keys else "CHANGED"
        same = after.migrations == before.migrations
        up.report.append(
            f"master and salt keys {keys}; generation {after.generation} "
            f"(before: {before.generation}); schema migrations "
            f"{'as before' if same else 'DIFFERENT from before'}"
        )
    up.say("Rollback report:")
    for line in up.report:
        up.say(f"  - {line}")
    if up.backups:
        up.say(f"  - pre-upgrade backups kept: {', '.join(up.backups.values())}")
