"""Every check against the real local stack: PostgreSQL, Redis, the LiteLLM proxy, backups
made by the module's scripts -- locally, over a real sshd and through a Machine."""

from __future__ import annotations

import pytest
from tappaas_litellm.verify import (
    CHECKS,
    CommandResult,
    Context,
    LocalTransport,
    MachineTransport,
    SSHTransport,
    Status,
    check_names,
    run_checks,
)
from verify_helpers import FakeMachine


def local_skips(target) -> dict[str, str]:
    """What cannot run on the local stack, and the word its reason must contain."""
    skips = {"services": "systemd", "backup-timers": "systemd", "logs": "systemd"}
    if not target.database:  # the proxy runs without PostgreSQL (no Prisma engines here)
        skips["database-tables"] = "Prisma"
    return skips


def _assert_stack_results(results, target) -> None:
    assert [r.name for r in results] == check_names()
    skips = local_skips(target)
    for result in results:
        assert result.reason, result
        if result.name in skips:
            assert result.status is Status.SKIP, result
            assert skips[result.name] in result.reason
        else:
            assert result.status is Status.PASS, result


@pytest.mark.parametrize("name", check_names())
def test_each_check_on_the_local_stack(name, target):
    result = CHECKS[name].function(Context(LocalTransport(), target))
    assert result.name == name
    assert result.title == CHECKS[name].title
    expected = Status.SKIP if name in local_skips(target) else Status.PASS
    assert result.status is expected, result


def test_run_checks_locally(target, upstream):
    before = upstream.completions_served
    seen = []
    results = run_checks(LocalTransport(), target, on_result=seen.append)
    assert seen == results
    _assert_stack_results(results, target)
    by_name = {r.name: r for r in results}
    # the request flow and /health really reached the model behind the proxy
    assert upstream.completions_served > before
    assert "fake-gpt" in by_name["request-flow"].reason
    way = "virtual key" if target.database else "master key"
    assert way in by_name["request-flow"].reason
    assert "PONG" in by_name["redis"].reason and "AOF on" in by_name["redis"].reason
    assert "cache redis" in by_name["health"].reason
    assert "1 model: fake-gpt" in by_name["models"].reason
    assert "newest:" in by_name["backup-age"].reason
    for kind in ("postgresql", "redis", "litellm-env"):
        assert kind in by_name["backup-age"].reason


def test_checks_over_real_ssh(target, sshd_server):
    transport = SSHTransport(
        "127.0.0.1",
        user=sshd_server.user,
        port=sshd_server.port,
        identity_file=str(sshd_server.identity),
        ssh_options=sshd_server.ssh_options(),
        systemd=False,  # this host has no systemd units for the gateway
    )
    results = run_checks(transport, target)
    _assert_stack_results(results, target)
    assert results[0].reason.startswith("commands run on ssh ")


def test_checks_through_a_test_driver_machine(target):
    machine = FakeMachine()
    transport = MachineTransport(machine)
    transport.has_systemd = False  # the stand-in runs on this host, without the units
    results = run_checks(transport, target)
    _assert_stack_results(results, target)
    assert machine.commands, "every command went through Machine.execute"


class Recording:
    """A transport that remembers every command line it ran."""

    def __init__(self) -> None:
        self.inner = LocalTransport()
        self.description = "recording"
        self.has_systemd = False
        self.commands: list[str] = []

    def run(self, command, *, timeout=30.0, stdin=None, root=False) -> CommandResult:
        self.commands.append(command)
        return self.inner.run(command, timeout=timeout, stdin=stdin, root=root)


def test_secrets_stay_off_command_lines_and_out_of_results(
    target, stack_secrets, postgresql_server
):
    transport = Recording()
    results = run_checks(transport, target)
    secrets = [v for v in stack_secrets.values.values() if len(v) >= 8]
    secrets.append(postgresql_server.superuser_password)
    assert secrets
    text = "\n".join(transport.commands)
    for result in results:
        text += "\n".join((result.reason, result.evidence, result.hint))
    for secret in secrets:
        assert secret not in text
