"""`upgrade` from the TAPPaaS CI/CD machine: the engine over SSH, with nixos-rebuild and the
site's image pin (:mod:`tappaas_litellm.admin.upgrade` holds the steps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
)
from tappaas_litellm.admin.upgrade import Action, PinChange, Upgrade
from tappaas_litellm.admin.upgrade_helper import HELPER_FILE, Remote
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.process import Command, CommandNotFoundError, Runner
from tappaas_litellm.common.ssh_target import check_destination, parse_target
from tappaas_litellm.hostfile.input_files import find_config, find_zones
from tappaas_litellm.hostfile.module_file import load_module_file
from tappaas_litellm.verify.transport import SSHTransport
from tappaas_litellm.verify.verify_cli import run_verify

__all__ = ["UpgradeOptions", "run_upgrade"]


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
