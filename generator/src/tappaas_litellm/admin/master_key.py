"""`key`: read the LiteLLM master key from the VM over SSH."""

from __future__ import annotations

from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import StepError
from tappaas_litellm.common.process import CommandNotFoundError, Runner
from tappaas_litellm.common.ssh_target import SshTarget, parse_target

__all__ = ["SECRETS_FILE", "key_command", "master_key_from_env", "read_master_key", "ssh_target"]

SECRETS_FILE = "/etc/secrets/litellm.env"  # tappaas.litellm.secrets.file
KEY_NAME = "LITELLM_MASTER_KEY"


def ssh_target(host: str, option: str = "--host") -> SshTarget:
    """USER@HOST as given, or tappaas@HOST; anything else exits 2 with one line."""
    return parse_target(host, option)


def key_command(target: SshTarget) -> list[str]:
    # `--`: the destination is never read as an option of ssh.
    return ["ssh", "--", str(target), "sudo", "cat", SECRETS_FILE]


def master_key_from_env(text: str) -> str | None:
    """The value of LITELLM_MASTER_KEY in an env file (KEY=value, optionally quoted)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if sep and key.strip() == KEY_NAME:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value or None
    return None


def read_master_key(target: SshTarget, runner: Runner) -> str:
    argv = key_command(target)
    try:
        result = runner.run(argv, capture=True)
    except CommandNotFoundError as exc:
        raise StepError(f"{exc.program} not found", exit_code=127) from None
    if result.returncode != 0:
        # ssh's own messages only; the file's content is never shown.
        raise StepError(
            f"`{shell.join(argv)}` failed with status {result.returncode}: "
            f"{(result.stderr or '').strip()}",
            exit_code=result.returncode,
            hint=f"check that `ssh {target} sudo true` works and that the VM was deployed",
        )
    key = master_key_from_env(result.stdout)
    if key is None:
        raise StepError(
            f"{SECRETS_FILE} on {target} has no {KEY_NAME}",
            hint="the secrets are made by generate-litellm-secrets.service on the VM; "
            f"see `ssh {target} systemctl status generate-litellm-secrets`",
        )
    return key
