"""`service-key`: a consuming module's LiteLLM key, read from the LiteLLM VM and handed over.

The key lives root-only on the LiteLLM VM at /etc/secrets/litellm-svc-<consumer>.key (made by
`litellm-service-keys`, see onvm/key_reconciler.py). This module reads it over SSH, prints it
or writes /etc/secrets/litellm-svckey.env (LITELLM_API_KEY, LITELLM_BASE_URL; 0600 root) on the
consumer VM, asks the VM to make or revoke it, and checks it. Every remote command is one
string built with shell.join; the key only ever travels on stdin and stdout, never on a command
line.

The consumer must prove its SSH host key. TAPPaaS records a new VM's key by address only
(update-os.sh: `ssh-keyscan -H <ip> >> ~/.ssh/known_hosts`), while the tool connects by name.
So when ssh finds no key at all for the name, the connection is made again, still to the name,
with `-o HostKeyAlias=<address>`: ssh then checks the key against the one recorded for the
first address the name resolves to (the address ssh itself tries first). A key known_hosts
holds for neither is refused; only --trust-new-host-key accepts a first-seen key.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.process import CommandNotFoundError, Runner
from tappaas_litellm.common.ssh_target import SshTarget

__all__ = [
    "CONSUMER_ENV_FILE",
    "ServiceKeyPlan",
    "Step",
    "key_file",
    "run_service_key",
]

KEY_DIR = "/etc/secrets"
CONSUMER_ENV_FILE = "/etc/secrets/litellm-svckey.env"
# The LiteLLM VM: deploy has met it already (its host key is in known_hosts); the key only
# comes from there.
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new")
# The consumer receives the key: only a host whose key known_hosts holds already, so a
# machine that answers for the consumer's name on first contact never gets it (known by name,
# or else by the address the name resolves to: see `_run`). With --trust-new-host-key (the
# admin's explicit choice) a first-seen key is accepted.
CONSUMER_SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes")
TRUST_NEW_SSH_OPTIONS = SSH_OPTIONS
STRICT = "StrictHostKeyChecking=yes"
# What ssh (sshconnect.c) says when known_hosts has no key at all for the host, as opposed to
# another key ("REMOTE HOST IDENTIFICATION HAS CHANGED").
_NO_KEY_KNOWN = re.compile(r"No \S+ host key is known for \S+ and you have requested strict")
_CONSUMER = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_KEY = re.compile(r"[A-Za-z0-9_\-.]{8,512}")

# Runs as root on the consumer: the env file arrives on stdin and lands in "$1" (0600), written
# to a temporary file first so a half-written file never replaces a good one.
WRITE_SCRIPT = (
    'set -eu; umask 077; file=$1; dir=$(dirname -- "$file"); mkdir -p -m 700 -- "$dir"; '
    'tmp=$(mktemp "$dir/.litellm-svckey.XXXXXX"); '
    'if cat > "$tmp" && chmod 600 -- "$tmp" && mv -f -T -- "$tmp" "$file"; then :; '
    'else rm -f -- "$tmp"; exit 1; fi'
)


def key_file(consumer: str) -> str:
    return f"{KEY_DIR}/litellm-svc-{consumer}.key"


def check_consumer(consumer: str, what: str = "CONSUMER") -> str:
    if not _CONSUMER.fullmatch(consumer):
        raise InputError(
            f"{what} {consumer!r} is not a consumer's VM name; allowed: a DNS label in lower "
            "case (letters, digits, '-', starting with a letter), e.g. openwebui"
        )
    return consumer


def ssh(target: SshTarget, words: list[str], options: tuple[str, ...] = SSH_OPTIONS) -> list[str]:
    """ssh argv running `words` as one quoted command line; `--` before the destination."""
    return ["ssh", *options, "--", str(target), shell.join(words)]


def unknown_host_key(stderr: str) -> bool:
    """Whether ssh refused the host because known_hosts has no key (or another key) for it."""
    return "Host key verification failed" in stderr


def no_key_known(stderr: str) -> bool:
    """Whether ssh refused the host because known_hosts has no key at all for it."""
    return unknown_host_key(stderr) and _NO_KEY_KNOWN.search(stderr) is not None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def first_address(host: str) -> str:
    """The first address `host` resolves to: the one ssh tries first (getaddrinfo's order)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return str(infos[0][4][0])


def by_address(argv: list[str], address: str) -> list[str]:
    """The ssh argv checking the host key under `address` (what TAPPaaS recorded)."""
    cut = argv.index("--")
    return [*argv[:cut], "-o", f"HostKeyAlias={address}", *argv[cut:]]


@dataclass(frozen=True)
class Step:
    """One command: what it does (for messages) and how its output is used (`kind`):
    vm (output shown), read-key (the key), write-env (the env file on stdin),
    check-env (the consumer's env file, compared with the key)."""

    kind: str
    what: str
    argv: list[str]


@dataclass(frozen=True)
class ServiceKeyPlan:
    """What `service-key` does for one consumer."""

    provider: SshTarget  # the LiteLLM VM
    consumer: str  # the consumer's VM name (alias litellm-svc-<consumer>)
    base_url: str  # http://<litellm host>:<port>/v1, as the consumer reaches it
    write_to: SshTarget | None = None
    ensure: bool = False
    revoke: bool = False
    test: bool = False
    trust_new_host_key: bool = False  # accept the consumer's host key on first contact

    @property
    def consumer_options(self) -> tuple[str, ...]:
        return TRUST_NEW_SSH_OPTIONS if self.trust_new_host_key else CONSUMER_SSH_OPTIONS

    def commands(self) -> list[Step]:
        """Every command, in order; for --dry-run and the tests."""
        vm_command = ["sudo", "litellm-service-keys"]
        if self.revoke:
            steps = [
                Step(
                    "vm",
                    "revoke the key",
                    ssh(self.provider, [*vm_command, "revoke", self.consumer]),
                )
            ]
            if self.write_to:
                rm = ["sudo", "rm", "-f", "--", CONSUMER_ENV_FILE]
                remove = ssh(self.write_to, rm, self.consumer_options)
                steps.append(Step("vm", f"remove {CONSUMER_ENV_FILE}", remove))
            return steps
        steps = []
        if self.ensure:
            ensure = ssh(self.provider, [*vm_command, "ensure", self.consumer])
            steps.append(Step("vm", "make the key if missing", ensure))
        read = ssh(self.provider, ["sudo", "cat", key_file(self.consumer)])
        steps.append(Step("read-key", "read the key", read))
        if self.write_to and self.test:
            check = ssh(self.write_to, ["sudo", "cat", CONSUMER_ENV_FILE], self.consumer_options)
            steps.append(Step("check-env", f"read {CONSUMER_ENV_FILE}", check))
        if self.test:
            # On the VM, as TAPPaaS tests it: no new network path from the CI/CD machine.
            test = ssh(self.provider, [*vm_command, "test", self.consumer])
            steps.append(Step("vm", "test the key on the VM", test))
        elif self.write_to:
            write = ["sudo", "sh", "-c", WRITE_SCRIPT, "litellm-svckey", CONSUMER_ENV_FILE]
            deliver = ssh(self.write_to, write, self.consumer_options)
            steps.append(Step("write-env", f"write {CONSUMER_ENV_FILE}", deliver))
        return steps


def consumer_env(key: str, base_url: str) -> str:
    return f"LITELLM_API_KEY={key}\nLITELLM_BASE_URL={base_url}\n"


def _call(runner: Runner, argv: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
    try:
        return runner.run(argv, capture=True, input=stdin)
    except CommandNotFoundError as exc:
        raise StepError(f"{exc.program} not found", exit_code=127) from None


_NO_NAME_HINT = (
    "check the VM's name (for tappaas-service: .vmname and .zone0 of the module's JSON) and "
    "that DNS answers for it (getent hosts NAME)"
)


def _record_hint(name: str) -> str:
    return (
        f"compare the VM's key (on its console: ssh-keygen -lf "
        f"/etc/ssh/ssh_host_ed25519_key.pub) with `ssh-keyscan {name} | ssh-keygen -lf -`, "
        "then add it to ~/.ssh/known_hosts; or pass --trust-new-host-key to accept it on "
        "first contact"
    )


def _refused(what: str, name: str, address: str | None, stderr: str) -> StepError:
    """The consumer's host key is not the one known_hosts holds (for its name or address)."""
    unknown = no_key_known(stderr)
    if address is None and unknown:
        problem = f"known_hosts holds no host key for {name}"
    elif address is None:
        problem = f"the host key of {name} differs from the one known_hosts holds for it"
    elif unknown:
        problem = f"known_hosts holds no host key for {name} nor for its address {address}"
    else:
        problem = (
            f"the host key of {name} differs from the one known_hosts holds for its "
            f"address {address}"
        )
    hint = (
        _record_hint(name)
        if unknown
        else (
            "if the VM was reinstalled, check its new key on its console and replace the old "
            f"entry (ssh-keygen -R {address or name}); otherwise another machine answers there"
        )
    )
    return StepError(f"{what} refused: {problem}, so the key is not sent to it", hint=hint)


def _run(
    runner: Runner,
    what: str,
    argv: list[str],
    stdin: str | None = None,
    show: Callable[[str], None] | None = None,
) -> str:
    """The command's stdout; on failure one line with its stderr. `show` gets the stdout of
    a failed command first (the VM's report of what it did; never a key).

    A strict connection (the consumer) that ssh refuses because known_hosts has no key for the
    name is made again under the name's address (HostKeyAlias), as TAPPaaS records VMs."""
    result = _call(runner, argv, stdin)
    host = argv[-2]
    name = host.rpartition("@")[2]
    strict = STRICT in argv
    address = None
    if result.returncode != 0 and strict and no_key_known(result.stderr or "") and not _is_ip(name):
        try:
            address = first_address(name)
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise StepError(
                f"{what} refused: known_hosts holds no host key for {name} and the name does "
                f"not resolve ({reason}), so the key is not sent to it",
                hint=_NO_NAME_HINT,
            ) from None
        result = _call(runner, by_address(argv, address), stdin)
    if result.returncode != 0:
        if show is not None and (result.stdout or "").strip():
            show(result.stdout.strip())
        if strict and unknown_host_key(result.stderr or ""):
            raise _refused(what, name, address, result.stderr or "")
        if "Could not resolve hostname" in (result.stderr or ""):
            raise StepError(f"{what} failed: {name} does not resolve", hint=_NO_NAME_HINT)
        detail = " ".join((result.stderr or "").split()) or f"status {result.returncode}"
        raise StepError(f"{what} failed ({host}): {detail}", exit_code=1)
    return result.stdout or ""


def _value(text: str, name: str) -> str | None:
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def run_service_key(
    plan: ServiceKeyPlan,
    runner: Runner,
    info: Callable[[str], None],
    *,
    dry_run: bool = False,
) -> str | None:
    """Carry out `plan`; returns the key when it is to be printed, else None."""
    steps = plan.commands()
    if dry_run:
        info(f"Dry run: nothing is run. Base URL for the consumer: {plan.base_url}")
        for step in steps:
            info(f"  {step.what}: $ {shell.join(step.argv)}")
            if STRICT in step.argv:
                info(
                    "    (if known_hosts has no key for the name: again with -o "
                    "HostKeyAlias=<the address the name resolves to>)"
                )
        return None
    key = ""
    for step in steps:
        if step.kind == "read-key":
            key = _run(runner, step.what, step.argv).strip()
            if not _KEY.fullmatch(key):
                raise StepError(
                    f"{key_file(plan.consumer)} on {plan.provider} holds no key; declare "
                    f"tappaas.litellm.serviceKeys.{plan.consumer} and deploy, or pass --ensure"
                )
        elif step.kind == "write-env":
            _run(runner, step.what, step.argv, stdin=consumer_env(key, plan.base_url))
            info(
                f"wrote {CONSUMER_ENV_FILE} on {plan.write_to} (LITELLM_API_KEY, LITELLM_BASE_URL)"
            )
        elif step.kind == "check-env":
            held = _value(_run(runner, step.what, step.argv), "LITELLM_API_KEY")
            if held != key:
                raise StepError(
                    f"{CONSUMER_ENV_FILE} on {plan.write_to} does not hold the consumer's key; "
                    "write it again (tappaas-litellm service-key ... --write-to)"
                )
            info(f"PASS  {CONSUMER_ENV_FILE} on {plan.write_to} holds the key")
        else:
            out = _run(runner, step.what, step.argv, show=info).strip()
            info(out or f"{step.what}: done")
    if plan.revoke:
        return None
    if plan.test:
        return None
    return None if plan.write_to else key
