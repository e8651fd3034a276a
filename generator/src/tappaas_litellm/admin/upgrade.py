"""`upgrade`: a new LiteLLM image or a new PostgreSQL major version, and the way back.

Both kinds share the steps: read the VM's state, stop LiteLLM, take fresh backups and check
that the dump restores into a scratch database, switch, wait, verify. Any failure after
LiteLLM was stopped rolls back: the pre-upgrade dump is restored first when the schema
migrations changed (LiteLLM migrates at start), then the VM switches back to the generation
it ran before, LiteLLM starts again and the keys are compared. The secrets file is never
written by any step.

:class:`Upgrade` runs on any transport with injected switch/wait/verify actions: SSH and
nixos-rebuild from the command line (:func:`run_upgrade`), the test driver in the VM test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from tappaas_litellm.admin import site
from tappaas_litellm.admin.deploy import (
    readiness_url,
    rebuild_command,
    target_for,
    wait_until_ready,
)
from tappaas_litellm.admin.image_pin import (
    PIN_FILE,
    ImagePin,
    check_digest,
    check_hash,
    check_tag,
    prefetch_command,
    read_pin,
    resolve,
    write_pin,
)
from tappaas_litellm.admin.upgrade_helper import HELPER_FILE, Remote, RemoteError, VmState
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.process import Command, CommandNotFoundError, Runner
from tappaas_litellm.common.ssh_target import check_destination, parse_target
from tappaas_litellm.hostfile.input_files import find_config, find_zones
from tappaas_litellm.hostfile.module_file import load_module_file
from tappaas_litellm.verify.transport import SSHTransport
from tappaas_litellm.verify.verify_cli import run_verify

__all__ = [
    "Action",
    "PinChange",
    "Upgrade",
    "UpgradeOptions",
    "needs_restore",
    "run_upgrade",
]

PG_STATE_DIR = "/var/lib/postgresql"
LONG = 3600.0  # backups, the scratch restore and the restore itself
DUMP_PLACEHOLDER = "/var/backup/postgresql/litellm-YYYYmmddTHHMMSSZ.dump"  # dry run: not taken yet


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
            self.rollback()
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

    def _rollback_plan(self) -> None:
        generation = "GENERATION"
        self.say("If a step after LiteLLM was stopped fails, the way back:")
        self.back("Stop LiteLLM")
        self.show(self.remote.display("stop"))
        self.back("Restore the pre-upgrade dump if the schema changed")
        self.show(self.remote.display("state"))
        if self.kind == "image":
            self.note("restore when the schema migrations differ from step 2's, or cannot be read:")
            self.show(self.remote.display("restore-dump", DUMP_PLACEHOLDER))
        else:
            self.note("no restore: the old PostgreSQL data directory is not touched")
        self.back("Switch back to GENERATION, the one before (when it is no longer current)")
        self.show(self.remote.display("switch-generation", generation, self.activation))
        self.show(self.remote.display("drop-generation", "FAILED_GENERATION"))
        if self.kind == "postgresql":
            self.back("Remove the guard's marker; set the new data directory aside")
            self.show(self.remote.display("pg-finish"))
            self.show(self.remote.display("pg-set-aside", "NEW_MAJOR"))
        if self.pin is not None:
            self.note(f"{self.pin.path} is written back to {self.pin.old.tag}")
        self.back("Start LiteLLM and wait until it is ready")
        self.show(self.remote.display("start"))
        self.show(self.wait.shown)
        self.back("Compare keys, generation and schema migrations with step 2's")
        self.show(self.remote.display("state"))

    def _summary(self) -> None:
        if self.dry_run:
            self._rollback_plan()
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

    # ---------------------------------------------------------------- back
    def _try(self, what: str, fn: Callable[[], object], by_hand: str) -> bool:
        try:
            fn()
        except (StepError, RemoteError) as exc:
            message = exc.message if isinstance(exc, StepError) else str(exc)
            self.report.append(f"FAILED: {what}: {message}; by hand: {by_hand}")
            self.say(f"      failed: {message}")
            return False
        self.report.append(what)
        return True

    def _call(self, *args: str, timeout: float = 120.0) -> dict[str, str]:
        self.show(self.remote.display(*args))
        return self.remote.call(*args, timeout=timeout)

    def rollback(self) -> None:
        assert self.before is not None
        before = self.before
        self.say("Rolling back")
        self.back("Stop LiteLLM")
        self._try(
            "stopped LiteLLM", lambda: self._call("stop"), "sudo systemctl stop podman-litellm"
        )

        self.back("Restore the pre-upgrade dump if the schema changed")
        try:
            now: VmState | None = VmState.parse(self._call("state", timeout=60))
        except RemoteError as exc:
            self.say(f"      cannot read the state: {exc}")
            now = None
        restore, why = needs_restore(self.kind, before, now)
        self.note(f"{'restore' if restore else 'no restore'}: {why}")
        if restore and self.dump:
            self._try(
                f"restored {self.dump} ({why})",
                lambda: self._call("restore-dump", self.dump, timeout=LONG),
                f"sudo litellm-restore --postgresql {self.dump} --confirm",
            )
        elif not restore:
            self.report.append(f"no database restore: {why}")

        self.back(f"Switch back to generation {before.generation}")
        if now is not None and now.generation == before.generation:
            self.note(f"generation {before.generation} is still the current one")
            self.report.append(f"generation {before.generation} was still current")
        else:
            back = self._try(
                f"switched back to generation {before.generation}",
                lambda: self._call(
                    "switch-generation", before.generation, self.activation, timeout=LONG
                ),
                f"sudo nix-env --profile /nix/var/nix/profiles/system --switch-generation "
                f"{before.generation} && sudo /nix/var/nix/profiles/system/bin/"
                "switch-to-configuration switch",
            )
            failed = now.generation if now is not None else ""
            if back and failed and failed != before.generation:
                self._try(
                    f"deleted the failed generation {failed}",
                    lambda: self._call("drop-generation", failed),
                    f"sudo nix-env --profile /nix/var/nix/profiles/system "
                    f"--delete-generations {failed}",
                )

        if self.kind == "postgresql":
            self.back("Remove the guard's marker; set the new data directory aside")
            self._try(
                "removed the guard's marker",
                lambda: self._call("pg-finish"),
                f"sudo rm {PG_STATE_DIR}/.litellm-major-upgrade",
            )
            if self.new_major and self.new_major != before.pg_major:
                self._try(
                    f"set {PG_STATE_DIR}/{self.new_major} aside",
                    lambda: self.note(
                        "kept: " + self._call("pg-set-aside", self.new_major).get("kept", "")
                    ),
                    f"sudo mv {PG_STATE_DIR}/{self.new_major} {PG_STATE_DIR}/{self.new_major}.old",
                )

        if self.pin is not None and self.pin.written:
            try:
                if self.pin.existed:
                    write_pin(self.pin.path, self.pin.old)
                else:  # the module's pin again: no site pin, as before
                    self.pin.path.unlink()
                    if self.pin.forget is not None:
                        self.pin.forget.run()
            except (OSError, StepError) as exc:
                self.report.append(
                    f"FAILED: putting {self.pin.path} back: {exc}; by hand: "
                    + (
                        f"write {self.pin.old.tag} back into it"
                        if self.pin.existed
                        else f"rm {self.pin.path} && git rm -q --cached --ignore-unmatch "
                        f"{self.pin.path}"
                    )
                )
            else:
                self.pin.written = False
                self.report.append(
                    f"{self.name} runs on {self.pin.old.tag} again ({PIN_FILE})"
                    if not self.pin.existed
                    else f"{self.pin.path} pins {self.pin.old.tag} again"
                )

        self.back("Start LiteLLM and wait until it is ready")
        started = self._try(
            "started LiteLLM", lambda: self._call("start"), "sudo systemctl start podman-litellm"
        )
        if started:
            self.show(self.wait.shown)
            self._try("LiteLLM is ready", self.wait.run, "sudo journalctl -u podman-litellm -n 50")

        self.back("Compare with the state before the upgrade")
        try:
            after = VmState.parse(self._call("state", timeout=60))
        except RemoteError as exc:
            self.report.append(f"FAILED: cannot read the state after the rollback: {exc}")
        else:
            keys = "unchanged" if after.keys == before.keys else "CHANGED"
            same = after.migrations == before.migrations
            self.report.append(
                f"master and salt keys {keys}; generation {after.generation} "
                f"(before: {before.generation}); schema migrations "
                f"{'as before' if same else 'DIFFERENT from before'}"
            )
        self.say("Rollback report:")
        for line in self.report:
            self.say(f"  - {line}")
        if self.backups:
            self.say(f"  - pre-upgrade backups kept: {', '.join(self.backups.values())}")


# -------------------------------------------------------------------- command line
@dataclass(frozen=True)
class UpgradeOptions:
    name: str
    image: str | None
    digest: str | None
    hash: str | None
    postgresql: bool
    config: Path | None
    zones_file: Path | None
    flake_dir: Path
    target_host: str | None
    build_host: str | None
    port: int
    wait_timeout: float
    dry_run: bool


def _check_options(o: UpgradeOptions) -> None:
    if o.image is None and not o.postgresql:
        raise InputError("say what to upgrade: --image TAG (LiteLLM) or --postgresql")
    if o.image is not None and o.postgresql:
        raise InputError(
            "--image and --postgresql: one upgrade at a time, so a failure is clearly one's"
        )
    if (o.digest is None) != (o.hash is None):
        raise InputError("--digest and --hash go together (both from nix-prefetch-docker)")
    if o.digest is not None and o.image is None:
        raise InputError("--digest and --hash need --image TAG")
    if o.image is not None:
        check_tag(o.image)
    if o.digest is not None:
        check_digest(o.digest)
    if o.hash is not None:
        check_hash(o.hash)
    if o.target_host is not None:
        parse_target(o.target_host, "--target-host")
    if o.build_host is not None:
        check_destination(o.build_host, "--build-host")


def _pin_index_actions(flake_dir: Path, pin_path: Path, runner: Runner) -> tuple[Action, Action]:
    """Register the site's pin with git (the flake sees only files git knows), and take it
    out again; both only in a git clone (a plain folder flake sees every file)."""
    add = site.register_command(flake_dir, [pin_path])
    relative = add.argv[-1]
    remove = Command(
        ("git", "rm", "-q", "--cached", "--ignore-unmatch", "--", relative), cwd=flake_dir
    )

    def run(command: Command) -> None:
        try:
            if runner.run_command(site.git_check_command(flake_dir), capture=True).returncode:
                return
            result = runner.run_command(command, capture=True)
        except CommandNotFoundError as exc:
            raise StepError(f"{exc.program} not found", exit_code=127) from None
        if result.returncode != 0:
            detail = " ".join((result.stderr or "").split()) or f"status {result.returncode}"
            raise StepError(f"{command.display()} failed: {detail}")

    return (
        Action(add.display(), lambda: run(add)),
        Action(remove.display(), lambda: run(remove)),
    )


def run_upgrade(options: UpgradeOptions, runner: Runner) -> int:
    o = options
    _check_options(o)
    flake_dir = Path(os.path.abspath(o.flake_dir))
    if not (flake_dir / "flake.nix").is_file():
        raise InputError(
            f"--flake-dir {flake_dir}: no flake.nix there; allowed: the folder of the "
            "TAPPaaS LiteLLM flake (run from it, or pass --flake-dir)"
        )
    host_dir = site.site_host_dir(flake_dir, o.name)
    if not (host_dir / site.HOST_FILE).is_file():
        raise InputError(
            f"{site.SITE_HOSTS}/{o.name}/{site.HOST_FILE} does not exist; deploy the VM first "
            f"(tappaas-litellm deploy {o.name})"
        )
    helper_path = flake_dir / HELPER_FILE
    try:
        helper_source = helper_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{helper_path}: cannot read the VM's upgrade helper ({exc})") from None

    choice = find_config(o.name, o.config)
    click.echo(choice.describe())
    spec = load_module_file(choice.path, find_zones(o.zones_file)).spec
    target = target_for(spec.fqdn, o.target_host)
    click.echo(f"Flake folder (commands run here): {flake_dir}")

    pin: PinChange | None = None
    resolve_pin = None
    resolve_shown = ""
    if o.image is not None:
        pin_path = host_dir / site.PIN_FILE_NAME
        existed = pin_path.is_file()
        old = read_pin(pin_path if existed else flake_dir / PIN_FILE)
        new = None
        if o.digest is not None and o.hash is not None:
            new = ImagePin(old.image_name, o.image, o.digest, check_hash(o.hash))
        register, forget = _pin_index_actions(flake_dir, pin_path, runner)
        pin = PinChange(pin_path, old, new, existed=existed, register=register, forget=forget)
        tag = o.image
        resolve_shown = prefetch_command(old.image_name, tag).display()

        def resolve_pin() -> ImagePin:
            return resolve(old, tag, runner, o.name)

    transport = SSHTransport(target.host, user=target.user)
    remote = Remote(transport, helper_source, str(target))

    rebuild = rebuild_command(o.name, target, o.build_host, flake_dir)

    def switch() -> None:
        try:
            result = runner.run_command(rebuild, capture=False)
        except CommandNotFoundError as exc:
            raise StepError(f"{exc.program} not found", exit_code=127) from None
        if result.returncode != 0:
            raise StepError(f"nixos-rebuild exited with status {result.returncode}")

    url = readiness_url(target.host, o.port)

    def wait() -> None:
        if wait_until_ready(url, o.wait_timeout, say=click.echo) is None:
            raise StepError(f"{url} did not answer within {o.wait_timeout:g} s")

    def verify() -> None:
        status = run_verify(o.name, target.host, user=target.user, flake_dir=flake_dir)
        if status != 0:
            raise StepError(f"verification of {o.name} failed", exit_code=status)

    upgrade = Upgrade(
        name=o.name,
        kind="image" if o.image is not None else "postgresql",
        remote=remote,
        switch=Action(rebuild.display(), switch),
        wait=Action(f"GET {url} (up to {o.wait_timeout:g} s)", wait),
        verify=Action(
            f"tappaas-litellm verify {o.name} --host {target.host} --user {target.user}", verify
        ),
        dry_run=o.dry_run,
        pin=pin,
        resolve_pin=resolve_pin,
        resolve_shown=resolve_shown,
    )
    return upgrade.run()
