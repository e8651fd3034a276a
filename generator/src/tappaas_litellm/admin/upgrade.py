"""`upgrade`: a new LiteLLM image or a new PostgreSQL major version, and the way back.

Both kinds share the steps: read the VM's state, stop LiteLLM, take fresh backups and check
that the dump restores into a scratch database, switch, wait, verify. Any failure after
LiteLLM was stopped rolls back: the pre-upgrade dump is restored first when the schema
migrations changed (LiteLLM migrates at start), then the VM switches back to the generation
it ran before, LiteLLM starts again and the keys are compared. The secrets file is never
written by any step.

:class:`Upgrade` runs on any transport with injected switch/wait/verify actions: SSH and
nixos-rebuild from the command line (:mod:`tappaas_litellm.admin.upgrade_over_ssh`), the test
driver in the VM test. The way back is in :mod:`tappaas_litellm.admin.upgrade_rollback`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from tappaas_litellm.admin import site
from tappaas_litellm.admin.image_pin import (
    PIN_FILE,
    ImagePin,
    write_pin,
)
from tappaas_litellm.admin.upgrade_helper import (
    DUMP_PLACEHOLDER,
    LONG,
    PG_STATE_DIR,
    Remote,
    RemoteError,
    VmState,
)
from tappaas_litellm.admin.upgrade_rollback import roll_back, rollback_plan
from tappaas_litellm.common.errors import StepError

__all__ = [
    "Action",
    "PinChange",
    "Upgrade",
]


@dataclass(frozen=True)
class Action:
    """A step the engine does not run through the helper: `shown` is printed, `run` does it."""

    shown: str
    run: Callable[[], None]


@dataclass
class PinChange:
    """The host's image pin (site/hosts/<name>/image.json) before and after.

    `old` is the site's pin when it has one, else the module's (modules/litellm/image.json,
    upstream's, never written here). `register` makes a written pin visible to the flake;
    `forget` takes it out again when the way back finds no site pin before."""

    path: Path
    old: ImagePin
    new: ImagePin | None  # None in a dry run without --digest/--hash: resolved in step 1
    written: bool = False
    existed: bool = True  # the site had its own pin before
    register: Action | None = None
    forget: Action | None = None


@dataclass
class Upgrade:
    name: str
    kind: str  # "image" or "postgresql"
    remote: Remote
    switch: Action
    wait: Action
    verify: Action
    dry_run: bool = False
    pin: PinChange | None = None
    resolve_pin: Callable[[], ImagePin] | None = None
    resolve_shown: str = ""
    activation: str = "switch"
    say: Callable[[str], None] = field(default=click.echo)
    clock: Callable[[], float] = field(default=time.monotonic)

    step: int = 0
    total: int = 0
    before: VmState | None = None
    dump: str = ""
    backups: dict[str, str] = field(default_factory=dict)
    new_major: str = ""
    stopped: bool = False
    back_step: int = 0
    report: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- output
    def header(self, title: str) -> None:
        self.step += 1
        self.say(f"[{self.step}/{self.total}] {title}")

    def show(self, line: str) -> None:
        self.say(f"      $ {line}")

    def back(self, title: str) -> None:
        self.back_step += 1
        self.say(f"[back {self.back_step}] {title}")

    def note(self, line: str) -> None:
        self.say(f"      {line}")

    def helper(self, *args: str, timeout: float = 120.0) -> dict[str, str]:
        self.show(self.remote.display(*args))
        if self.dry_run:
            return {}
        try:
            return self.remote.call(*args, timeout=timeout)
        except RemoteError as exc:
            raise StepError(
                f"step {self.step}/{self.total} failed on the VM: {exc}",
                hint="see the message above; nothing after this step was done",
            ) from None

    def action(self, action: Action) -> None:
        self.show(action.shown)
        if not self.dry_run:
            action.run()

    # ---------------------------------------------------------------- forward
    def run(self) -> int:
        # Without a pin change (the VM test switches to a configuration with another image)
        # there is nothing to resolve or write.
        self.total = (8 if self.pin is not None else 6) if self.kind == "image" else 9
        if self.dry_run:
            self.say(f"Dry run: the steps to upgrade {self.name}; nothing is run or written.")
            self.say(
                "Upper-case words (GENERATION, OLD_MAJOR, ...) are read from the VM on the way."
            )
        if self.kind == "image" and self.pin is not None and not self._resolve():
            return 0
        self._read_state()
        try:
            self._backups()
            if self.kind == "image":
                if self.pin is not None:
                    self._pin()
                self._switch()
                self._wait()
                self._verify()
            else:
                self._allow_empty()
                self._switch()
                self._restore_into_new()
                self._wait()
                self._verify()
                self._finish_postgresql()
        except StepError as exc:
            if self.dry_run or not self.stopped:
                raise
            failed = self.step
            self.say(f"error: {exc.message}")
            if exc.hint:
                self.say(f"hint: {exc.hint}")
            roll_back(self)
            raise StepError(
                f"the upgrade of {self.name} failed at step {failed}/{self.total} and was rolled "
                "back (see above)",
                exit_code=1,
            ) from None
        self._summary()
        return 0

    def _resolve(self) -> bool:
        """Step 1 of an image upgrade; False when the tag is pinned already."""
        assert self.pin is not None
        old = self.pin.old
        if self.pin.new is not None:
            self.header(f"Use {self.pin.new.image_name}:{self.pin.new.tag} (digest and hash given)")
        else:
            self.header("Resolve the new tag to a digest and Nix hash")
            self.show(self.resolve_shown)
            if not self.dry_run and self.resolve_pin is not None:
                self.pin.new = self.resolve_pin()
        new = self.pin.new
        self.note(f"now:  {old.reference()}")
        if new is None:
            self.note("new:  the digest and hash nix-prefetch-docker prints")
            return True
        self.note(f"new:  {new.reference()} ({new.hash})")
        if new.digest == old.digest and not self.dry_run:
            where = self.pin.path if self.pin.existed else PIN_FILE
            self.say(f"{where} already pins this image; nothing to upgrade.")
            return False
        return True

    def _read_state(self) -> None:
        self.header("Read the VM's state: generation, keys, PostgreSQL, schema migrations")
        values = self.helper("state", timeout=60)
        if self.dry_run:
            return
        state = VmState.parse(values)
        problems = []
        if not state.generation:
            problems.append("no system generation (/nix/var/nix/profiles/system): no way back")
        if state.keys == "missing":
            problems.append("the secrets file has no master or salt key")
        if not state.pg_major or state.migrations == "unknown":
            problems.append("PostgreSQL does not answer")
        if problems:
            raise StepError(
                "the VM is not ready for an upgrade: " + "; ".join(problems),
                hint=f"run `tappaas-litellm verify {self.name}` and fix what it reports; "
                "nothing was changed",
            )
        self.before = state
        self.note(
            f"generation {state.generation}; PostgreSQL {state.pg_major}; "
            f"{state.migration_count()} schema migrations; LiteLLM {state.service or '?'}"
        )

    def _backups(self) -> None:
        self.header("Stop LiteLLM and take fresh backups (PostgreSQL, Redis, secrets)")
        self.helper("stop")
        self.stopped = True
        values = self.helper("backup", timeout=LONG)
        self.dump = values.get("dump", "")
        self.backups = values
        for what in ("dump", "redis", "env"):
            if values.get(what):
                self.note(f"{what}: {values[what]}")
        if not self.dry_run and not self.dump:
            raise StepError("the backup gave no PostgreSQL dump")
        self.header("Check the dump restores into a scratch database")
        started = self.clock()
        checked = self.helper("check-dump", self.dump or DUMP_PLACEHOLDER, timeout=LONG)
        if checked:
            self.note(
                f"{checked.get('tables', '?')} tables, {checked.get('rows', '?')} rows: "
                f"the same as the live database; restored in {self.clock() - started:.0f} s "
                "(a restore on the way back takes about as long)"
            )

    def _pin(self) -> None:
        assert self.pin is not None
        self.header(f"Pin the new image for this site in {site.SITE_HOSTS}/{self.name}/")
        if self.dry_run or self.pin.new is None:
            self.note(f"would write {self.pin.path} (digest and hash together)")
            if self.pin.register is not None:
                self.show(self.pin.register.shown)
            return
        try:
            write_pin(self.pin.path, self.pin.new)
        except OSError as exc:
            raise StepError(f"cannot write {self.pin.path}: {exc}") from None
        self.pin.written = True
        self.note(f"wrote {self.pin.path}: {self.pin.new.tag} {self.pin.new.digest}")
        if self.pin.register is not None:
            self.action(self.pin.register)

    def _switch(self) -> None:
        self.header(f"Build and switch {self.name} ({self.remote.shown})")
        self.action(self.switch)
        if self.kind == "image":
            self.helper("start")

    def _wait(self) -> None:
        self.header("Wait until LiteLLM is ready")
        self.action(self.wait)

    def _verify(self) -> None:
        self.header("Verify the gateway; the master and salt keys must be unchanged")
        self.action(self.verify)
        after = self.helper("state", timeout=60)
        if self.dry_run or self.before is None:
            return
        now = VmState.parse(after)
        if now.keys != self.before.keys:
            raise StepError("the master or salt key on the VM changed during the upgrade")
        self.note(
            f"keys unchanged; schema migrations: {self.before.migration_count()} before, "
            f"{now.migration_count()} now"
        )
        if self.kind == "postgresql" and now.migrations != self.before.migrations:
            raise StepError("the schema migrations differ from the dump's after the restore")

    def _allow_empty(self) -> None:
        old = self.before.pg_major if self.before else "OLD_MAJOR"
        self.header(f"Let the new PostgreSQL start empty next to the PostgreSQL {old} data")
        self.helper("pg-allow-empty", old, self.dump or DUMP_PLACEHOLDER)
        self.note(f"{PG_STATE_DIR}/{old} is kept as it is")

    def _restore_into_new(self) -> None:
        self.header("Restore the dump into the new PostgreSQL")
        state = self.helper("state", timeout=60)
        if not self.dry_run and self.before is not None:
            now = VmState.parse(state)
            if not now.pg_major:
                raise StepError("PostgreSQL does not answer after the switch")
            if now.pg_major == self.before.pg_major:
                raise StepError(
                    f"PostgreSQL is still {now.pg_major} after the switch",
                    hint="set tappaas.litellm.database.package (e.g. pkgs.postgresql_18) in "
                    f"{site.SITE_HOSTS}/{self.name}/local.nix and deploy",
                )
            self.new_major = now.pg_major
            self.note(f"PostgreSQL {self.before.pg_major} -> {now.pg_major}")
        self.helper("restore-dump", self.dump or DUMP_PLACEHOLDER, timeout=LONG)
        self.helper("start")

    def _finish_postgresql(self) -> None:
        self.header("Finish: the guard's marker goes, the old data directory stays")
        self.helper("pg-finish")

    def _summary(self) -> None:
        if self.dry_run:
            rollback_plan(self)
            self.say("Dry run complete.")
            return
        old = self.before.pg_major if self.before else "?"
        if self.kind == "image" and self.pin and self.pin.new:
            self.say(
                f"Upgraded {self.name} to {self.pin.new.image_name}:{self.pin.new.tag}. "
                f"{self.pin.path} pins it for this site (never committed, so `git pull` keeps "
                "it; remove it to follow the module's pin again)."
            )
        elif self.kind == "image":
            self.say(f"Upgraded {self.name}: the new configuration runs and verifies.")
        else:
            self.say(
                f"Upgraded PostgreSQL of {self.name} from {old} to {self.new_major}. The old data "
                f"directory {PG_STATE_DIR}/{old} is kept: remove it when you are satisfied "
                f"(ssh -- {self.remote.shown} sudo rm -rf {PG_STATE_DIR}/{old})."
            )
        self.say(f"Pre-upgrade backups: {', '.join(self.backups.values())}")
