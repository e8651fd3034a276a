"""`service-key`: a consuming module's LiteLLM key, read from the LiteLLM VM and handed over.

The key lives root-only on the LiteLLM VM at /etc/secrets/litellm-svc-<consumer>.key (made by
`litellm-service-keys`, see service_keys.py). This module reads it over SSH, prints it or writes
/etc/secrets/litellm-svckey.env (LITELLM_API_KEY, LITELLM_BASE_URL; 0600 root) on the consumer
VM, asks the VM to make or revoke it, and checks it. Every remote command is one string built
with shell.join; the key only ever travels on stdin and stdout, never on a command line.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from tappaas_litellm import shell
from tappaas_litellm.errors import InputError, StepError
from tappaas_litellm.hosts import SshTarget
from tappaas_litellm.process import CommandNotFoundError, Runner

__all__ = [
    "CONSUMER_ENV_FILE",
    "ServiceKeyPlan",
    "Step",
    "key_file",
    "run_service_key",
]

KEY_DIR = "/etc/secrets"
CONSUMER_ENV_FILE = "/etc/secrets/litellm-svckey.env"
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new")
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


def ssh(target: SshTarget, words: list[str]) -> list[str]:
    """ssh argv running `words` as one quoted command line; `--` before the destination."""
    return ["ssh", *SSH_OPTIONS, "--", str(target), shell.join(words)]


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
                steps.append(Step("vm", f"remove {CONSUMER_ENV_FILE}", ssh(self.write_to, rm)))
            return steps
        steps = []
        if self.ensure:
            ensure = ssh(self.provider, [*vm_command, "ensure", self.consumer])
            steps.append(Step("vm", "make the key if missing", ensure))
        read = ssh(self.provider, ["sudo", "cat", key_file(self.consumer)])
        steps.append(Step("read-key", "read the key", read))
        if self.write_to and self.test:
            check = ssh(self.write_to, ["sudo", "cat", CONSUMER_ENV_FILE])
            steps.append(Step("check-env", f"read {CONSUMER_ENV_FILE}", check))
        if self.test:
            # On the VM, as TAPPaaS tests it: no new network path from the CI/CD machine.
            test = ssh(self.provider, [*vm_command, "test", self.consumer])
            steps.append(Step("vm", "test the key on the VM", test))
        elif self.write_to:
            write = ["sudo", "sh", "-c", WRITE_SCRIPT, "litellm-svckey", CONSUMER_ENV_FILE]
            steps.append(Step("write-env", f"write {CONSUMER_ENV_FILE}", ssh(self.write_to, write)))
        return steps


def consumer_env(key: str, base_url: str) -> str:
    return f"LITELLM_API_KEY={key}\nLITELLM_BASE_URL={base_url}\n"


def _run(
    runner: Runner,
    what: str,
    argv: list[str],
    stdin: str | None = None,
    show: Callable[[str], None] | None = None,
) -> str:
    """The command's stdout; on failure one line with its stderr. `show` gets the stdout of
    a failed command first (the VM's report of what it did; never a key)."""
    try:
        result = runner.run(argv, capture=True, input=stdin)
    except CommandNotFoundError as exc:
        raise StepError(f"{exc.program} not found", exit_code=127) from None
    if result.returncode != 0:
        if show is not None and (result.stdout or "").strip():
            show(result.stdout.strip())
        detail = " ".join((result.stderr or "").split()) or f"status {result.returncode}"
        raise StepError(f"{what} failed ({argv[-2]}): {detail}", exit_code=1)
    return result.stdout or ""


def _value(text: str, name: str) -> str | None:
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def _models(base_url: str, key: str, timeout: float) -> list[str]:
    request = urllib.request.Request(base_url.rstrip("/") + "/models")
    request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        raise StepError(f"GET {base_url}/models with the key: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise StepError(f"GET {base_url}/models: {getattr(exc, 'reason', exc)}") from None
    return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]


def run_service_key(
    plan: ServiceKeyPlan,
    runner: Runner,
    info: Callable[[str], None],
    *,
    dry_run: bool = False,
    http_timeout: float = 30.0,
) -> str | None:
    """Carry out `plan`; returns the key when it is to be printed, else None."""
    steps = plan.commands()
    if dry_run:
        info(f"Dry run: nothing is run. Base URL for the consumer: {plan.base_url}")
        for step in steps:
            info(f"  {step.what}: $ {shell.join(step.argv)}")
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
