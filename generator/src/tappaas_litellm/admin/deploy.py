"""`deploy`: generate the host, make it visible to the flake, switch the VM, check it.

Every step is described before it runs; --dry-run describes them all and runs none.
"""

from __future__ import annotations

import os
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from tappaas_litellm.admin import site
from tappaas_litellm.admin.create import CREATE_STEPS, CreateOptions, Creator
from tappaas_litellm.admin.generate import Generated, prepare
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.process import Command, CommandNotFoundError, Runner
from tappaas_litellm.common.ssh_target import SshTarget, check_destination, parse_target
from tappaas_litellm.common.web import open_url
from tappaas_litellm.hostfile.render import write_host_file
from tappaas_litellm.hostfile.scale_out import Datastore
from tappaas_litellm.verify.verify_cli import run_verify

__all__ = [
    "DEFAULT_PORT",
    "DeployOptions",
    "readiness_url",
    "rebuild_command",
    "run_deploy",
    "target_for",
    "wait_until_ready",
]

DEFAULT_PORT = 4000  # tappaas.litellm.port
# A new VM's host key is not known yet: accept it the first time, refuse a changed one.
DEFAULT_SSHOPTS = "-o StrictHostKeyChecking=accept-new"
POLL_SECONDS = 5.0
STEPS = 5


@dataclass(frozen=True)
class DeployOptions:
    name: str
    config: Path | None
    zones_file: Path | None
    flake_dir: Path
    target_host: str | None
    build_host: str | None
    port: int
    wait_timeout: float
    dry_run: bool
    other_vmname: bool = False  # --other-vmname: the module file's vmname may differ from NAME
    create: CreateOptions | None = None  # --create: a new VM from the image when none exists


def target_for(fqdn: str, override: str | None) -> SshTarget:
    """tappaas@<vm>.<zone>.internal, or the --target-host given (a bare HOST means tappaas@HOST).

    Anything but [USER@]HOST (a DNS name or an IP address) exits 2 with one line: the value
    goes to nixos-rebuild and from there to ssh, which must never read it as an option.
    """
    if override is not None:
        return parse_target(override, "--target-host")
    return parse_target(fqdn, "the module file's VM name and zone")


def readiness_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/health/readiness"


def rebuild_command(
    name: str, target: SshTarget, build_host: str | None, flake_dir: Path
) -> Command:
    argv = ["nixos-rebuild", "switch", "--flake", f".#{name}", "--target-host", str(target)]
    # NixOS 25.11 runs nixos-rebuild-ng: --sudo elevates the activation on the target.
    argv.append("--sudo")
    if build_host:
        argv += ["--build-host", build_host]
    env = {} if "NIX_SSHOPTS" in os.environ else {"NIX_SSHOPTS": DEFAULT_SSHOPTS}
    return Command(tuple(argv), cwd=flake_dir, env=env)


def git_commands(flake_dir: Path, host_file: Path) -> tuple[Command, Command]:
    """`git add --intent-to-add --force` of the site's host file, and of its local.nix and
    image.json when there are: a flake sees only files git knows, and would silently build
    without them. Nothing is committed: site/ is the site's, never upstream's."""
    files = [host_file, *(p for p in site.site_files(host_file.parent) if p != host_file)]
    return site.git_check_command(flake_dir), site.register_command(flake_dir, files)


def wait_until_ready(
    url: str,
    timeout: float,
    *,
    say: Callable[[str], None],
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Poll `url` until it answers 200; the body, or None after `timeout` seconds."""
    pause = POLL_SECONDS if interval is None else interval
    start = clock()
    last_report = start
    last_problem = "no answer yet"
    while True:
        try:
            # The VM is on the local network: never through a proxy (web.open_url).
            with open_url(url, min(10.0, max(1.0, timeout))) as response:
                body = response.read(4096).decode("utf-8", "replace")
                if response.status == 200:
                    return body
                last_problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            last_problem = str(reason)
        now = clock()
        if now - start >= timeout:
            say(f"      last answer: {last_problem}")
            return None
        if now - last_report >= 30:
            say(f"      still waiting ({int(now - start)} s): {last_problem}")
            last_report = now
        sleep(min(pause, max(0.0, timeout - (now - start))))


class _Deploy:
    def __init__(self, options: DeployOptions, runner: Runner) -> None:
        self.options = options
        self.runner = runner
        self.step = 0
        self.total = STEPS + (CREATE_STEPS if options.create is not None else 0)

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def say(self, text: str) -> None:
        click.echo(text)

    def warn(self, text: str) -> None:
        click.echo(f"warning: {text}", err=True)

    def header(self, title: str) -> None:
        self.step += 1
        click.echo(f"[{self.step}/{self.total}] {title}")

    def skip(self, steps: int, title: str) -> None:
        click.echo(f"[{self.step + 1}-{self.step + steps}/{self.total}] {title}")
        self.step += steps

    def fail(self, message: str, *, hint: str, exit_code: int = 1) -> StepError:
        text = f"step {self.step}/{self.total}: {message}"
        return StepError(text, exit_code=exit_code, hint=hint)

    def attempt(self, command: Command) -> tuple[int, str, str]:
        """Run `command` quietly; its status and output (failing is the caller's business)."""
        try:
            result = self.runner.run_command(command, capture=True)
        except CommandNotFoundError as exc:
            raise self.fail(
                f"{exc.program} not found",
                exit_code=127,
                hint=f"install {exc.program} or run the tool with `nix run .#deploy -- NAME`",
            ) from None
        return result.returncode, result.stdout or "", result.stderr or ""

    def show(self, command: Command) -> None:
        click.echo(f"      $ {command.display()}")

    def run(self, command: Command, *, capture: bool, hint: str) -> str:
        self.show(command)
        if self.options.dry_run:
            return ""
        try:
            result = self.runner.run_command(command, capture=capture)
        except CommandNotFoundError as exc:
            raise StepError(
                f"step {self.step}/{self.total}: {exc.program} not found",
                exit_code=127,
                hint=f"install {exc.program} or run the tool with `nix run .#deploy -- NAME`",
            ) from None
        if result.returncode != 0:
            if capture:
                for stream in (result.stdout, result.stderr):
                    if stream:
                        click.echo(stream.rstrip("\n"), err=True)
            raise StepError(
                f"step {self.step}/{self.total} failed: {command.argv[0]} exited with "
                f"status {result.returncode}",
                exit_code=result.returncode,
                hint=hint,
            )
        return result.stdout or ""

    def deploy(self) -> int:
        o = self.options
        # Hosts are checked before anything is written or run.
        if o.target_host is not None:
            parse_target(o.target_host, "--target-host")
        if o.build_host is not None:
            check_destination(o.build_host, "--build-host")
        flake_dir = Path(os.path.abspath(o.flake_dir))
        if not (flake_dir / "flake.nix").is_file():
            raise InputError(
                f"--flake-dir {flake_dir}: no flake.nix there; allowed: the folder of the "
                "TAPPaaS LiteLLM flake (run from it, or pass --flake-dir)"
            )
        if o.dry_run:
            self.say(f"Dry run: the steps to deploy {o.name}; nothing is run or written.")
        self.say(f"Flake folder (commands run here): {flake_dir}")

        # 1. Generate.
        self.header("Generate the host file")
        generated: Generated = prepare(
            o.name,
            config=o.config,
            zones_file=o.zones_file,
            out_dir=flake_dir / site.SITE_HOSTS,
            info=lambda text: self.say(f"      {text}"),
            warn=self.warn,
            other_vmname=o.other_vmname,
        )
        host_file = generated.host
        name = generated.name
        site.check_old_layout(flake_dir, name)
        creator = None
        if o.create is not None:
            # Checked, and the VM id looked up, before anything is written.
            creator = Creator(
                self,
                generated,
                o.create,
                flake_dir=flake_dir,
                vm_target=target_for(generated.module.spec.fqdn, o.target_host),
                home=Path.home(),
            )
            creator.look_up()
            self.header("Write the host file")
        shown = os.path.relpath(host_file.path, flake_dir)
        if o.dry_run:
            self.say(f"      would write {shown} ({host_file.state()})")
        else:
            state = write_host_file(host_file)
            self.say(f"      {shown}: {'written' if state != 'unchanged' else 'up to date'}")

        # 2. Make it visible to the flake (flakes only see files git knows).
        self.header("Make the site's host visible to the flake (git add --intent-to-add)")
        check, add = git_commands(flake_dir, host_file.path)
        self.run(
            check,
            capture=True,
            hint=f"{flake_dir} must be a git work tree: flakes only see files git tracks. "
            "Deploy from a git clone of the flake (or run `git init && git add -A` there).",
        )
        self.run(add, capture=True, hint="check the git output above")
        # Upstream files an earlier version changed would stop the next `git pull`.
        changed = site.changed_upstream_command(flake_dir, name)
        self.show(changed)
        if not o.dry_run:
            code, out, _ = self.attempt(changed)  # no commit yet (a new clone): nothing to say
            for warning in site.changed_upstream_warnings(out if code == 0 else "", name):
                self.warn(warning)

        if creator is not None:
            creator.create()

        # 3. Build and switch the VM.
        target = target_for(generated.module.spec.fqdn, o.target_host)
        host = target.host
        where = f"{target}" + (f", building on {o.build_host}" if o.build_host else "")
        self.header(f"Build and switch {name} on {where}")
        self.run(
            rebuild_command(name, target, o.build_host, flake_dir),
            capture=False,
            hint=f"check that `ssh {target} sudo true` works without a password prompt, "
            "that the VM runs NixOS, and the build output above",
        )

        if isinstance(generated.module.spec.role, Datastore):
            # PostgreSQL and Redis only: its gateways' deploys check them through LiteLLM.
            self.skip(2, f"{name} is a datastore: no LiteLLM to wait for or verify")
            self.say(f"{'Dry run complete' if o.dry_run else f'Deployed {name}'}.")
            return 0

        # 4. Wait for LiteLLM.
        url = readiness_url(host, o.port)
        self.header("Wait until LiteLLM is ready")
        self.say(f"      GET {url} (every {POLL_SECONDS:g} s, up to {o.wait_timeout:g} s)")
        if not o.dry_run:
            body = wait_until_ready(url, o.wait_timeout, say=self.say)
            if body is None:
                raise StepError(
                    f"step {self.step}/{self.total}: {url} did not answer within "
                    f"{o.wait_timeout:g} s",
                    hint=f"look at the services on the VM: ssh {target} "
                    "'systemctl status podman-litellm; sudo journalctl -u podman-litellm -n 50'",
                )
            self.say(f"      ready: {body.strip()[:200]}")

        # 5. Verify.
        self.header("Verify the deployment")
        user = target.user
        self.say(
            f"      tappaas-litellm verify {name} --host {host} --user {user} --flake {flake_dir}"
        )
        if not o.dry_run:
            status = run_verify(name, host, user=user, flake_dir=flake_dir)
            if status != 0:
                raise StepError(
                    f"step {self.step}/{self.total}: verification of {name} failed",
                    exit_code=status,
                    hint="see the failed checks above",
                )

        key = f"tappaas-litellm key {name}"
        if o.target_host:
            key += f" --host {target}"
        done = "Dry run complete" if o.dry_run else f"Deployed {name}"
        self.say(f"{done}. Read the master key with: {key}")
        return 0


def run_deploy(options: DeployOptions, runner: Runner) -> int:
    return _Deploy(options, runner).deploy()
