"""Reaching the machine, the install guide's Test 1 (services) and the checklist's secrets and
master key.

See :mod:`tappaas_litellm.verify.checks` for how checks run.
"""

from __future__ import annotations

from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.context import Context
from tappaas_litellm.verify.registry import CheckGroup, require_systemd
from tappaas_litellm.verify.result import CheckFailedError, CheckResult, failed, passed
from tappaas_litellm.verify.transport import SSH_ERROR_RC

GROUP = CheckGroup()
check = GROUP.check


# --- connection -------------------------------------------------------------------------


@check("connection", "Reach the gateway's machine")
def check_connection(ctx: Context) -> CheckResult:
    """The transport works, and (over SSH) sudo works without a password."""
    result = ctx.run("echo verify-ok")
    if result.rc == SSH_ERROR_RC or "verify-ok" not in result.stdout:
        return failed(
            f"cannot reach {ctx.transport.description}: {result.why()}",
            "is the VM running (Proxmox)? does the name resolve? try: ssh tappaas@HOST; "
            "pass --host to use another address",
            result.stderr,
        )
    if not ctx.transport.has_systemd:
        return passed(f"commands run on {ctx.transport.description}")
    root = ctx.run("id -u", root=True)
    if not root.ok or root.stdout.strip() != "0":
        return failed(
            f"no root rights through {ctx.transport.description}: {root.why()}",
            "the user needs password-less sudo (TAPPaaS: the tappaas user is in wheel)",
            root.stderr,
        )
    return passed(f"commands run on {ctx.transport.description}, root rights available")


# --- test 1: services -------------------------------------------------------------------


@check("services", "All services running", "Test 1")
def check_services(ctx: Context) -> CheckResult:
    require_systemd(ctx)
    units = list(ctx.target.units)
    result = ctx.run(shell_commands.systemctl_is_active(units))
    states = result.stdout.split()
    if len(states) != len(units):
        raise CheckFailedError(f"systemctl is-active failed: {result.why()}", "", result.stderr)
    bad = [(unit, state) for unit, state in zip(units, states, strict=True) if state != "active"]
    evidence = "\n".join(f"{unit}: {state}" for unit, state in zip(units, states, strict=True))
    if not bad:
        return passed(f"{len(units)} units active", evidence)
    for unit, _ in bad:
        journal = ctx.run(shell_commands.journal_tail(unit, 15), root=True)
        evidence += f"\n--- journalctl -u {unit} -n 15\n{journal.stdout.strip()}"
    first = bad[0][0]
    return failed(
        "not active: " + ", ".join(f"{unit} ({state})" for unit, state in bad),
        f"sudo journalctl -u {first} -n 50; sudo systemctl restart {first}",
        evidence,
    )


# --- checklist: secrets -----------------------------------------------------------------


@check("secrets-file", "Secrets file present, complete and private")
def check_secrets_file(ctx: Context) -> CheckResult:
    path = ctx.target.secrets_file
    stat = ctx.run(shell_commands.stat_file(path), root=True)
    if not stat.ok:
        if "No such file" in stat.why():
            return failed(
                f"{path} is missing",
                "sudo systemctl restart generate-litellm-secrets.service podman-litellm",
                stat.stderr,
            )
        raise CheckFailedError(f"cannot stat {path}: {stat.why()}", "", stat.stderr)
    mode, owner, group, size = [*stat.stdout.split(), "", "", "", ""][:4]
    evidence = f"{path}: mode {mode} owner {owner}:{group} size {size}"
    problems: list[str] = []
    hints: list[str] = []
    if mode != "600":
        problems.append(f"mode {mode}, expected 600")
        hints.append(f"sudo chmod 600 {path}")
    expected_owner = ctx.target.secrets_owner
    if expected_owner is not None and owner != expected_owner:
        problems.append(f"owner {owner}, expected {expected_owner}")
        hints.append(f"sudo chown {expected_owner}: {path}")
    env = ctx.secrets_env()
    missing = [name for name in ctx.target.secrets_variables if not env.get(name)]
    evidence += "\nvariables: " + ", ".join(sorted(env))
    if missing:
        problems.append("missing " + ", ".join(missing))
        hints.append(
            "sudo systemctl restart generate-litellm-secrets.service (it only adds missing "
            "variables), then sudo systemctl restart podman-litellm"
        )
    if problems:
        return failed(f"{path}: " + "; ".join(problems), "; ".join(hints), evidence)
    return passed(f"{path} mode 600, {len(ctx.target.secrets_variables)} variables set", evidence)


@check("master-key", "Master key present", "Checklist: master key retrieved and saved")
def check_master_key(ctx: Context) -> CheckResult:
    env = ctx.secrets_env()
    key = ctx.master_key()
    problems: list[str] = []
    if not key.startswith("sk-"):
        problems.append("does not start with sk-")
    if len(key) < 32:
        problems.append(f"only {len(key)} characters")
    if key in {"sk-1234", "sk-12345"}:
        problems.append("is a well-known default")
    salt = env.get("LITELLM_SALT_KEY", "")
    if not salt:
        problems.append("LITELLM_SALT_KEY is not set")
    if problems:
        return failed(
            "LITELLM_MASTER_KEY " + "; ".join(problems),
            "keys are generated by generate-litellm-secrets.service; never change the salt "
            "key once models are stored (their credentials become unreadable)",
        )
    # An install adopted from the install guide keeps its master key as salt key: LiteLLM
    # encrypted the stored provider keys with it (see README, "Moving an existing ... VM").
    salt_state = (
        "salt key equals the master key (adopted install: keep it, it decrypts the stored "
        "provider keys)"
        if salt == key
        else "salt key set and different"
    )
    return passed(
        f"LITELLM_MASTER_KEY set ({len(key)} chars), {salt_state}; "
        f"read it with: sudo grep LITELLM_MASTER_KEY {ctx.target.secrets_file}"
    )
