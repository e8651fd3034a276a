"""The three transports run real commands: locally, over a real sshd, through a Machine."""

from __future__ import annotations

import time

from tappaas_litellm.verify import (
    CommandResult,
    LocalTransport,
    MachineTransport,
    SSHTransport,
    Transport,
)
from verify_helpers import free_port


def _ssh(server, **kwargs) -> SSHTransport:
    return SSHTransport(
        "127.0.0.1",
        user=server.user,
        port=server.port,
        identity_file=str(server.identity),
        ssh_options=server.ssh_options(),
        **kwargs,
    )


def _common_behaviour(transport: Transport) -> None:
    rc, out, err = transport.run("echo out; echo err >&2; exit 3")
    assert (rc, out, err) == (3, "out\n", "err\n")
    assert transport.run("cat; printf 'x'", stdin="line 1\nline 2\n").stdout == "line 1\nline 2\nx"
    quoted = transport.run("""printf '%s|' "a b" 'c"d' $'e\\'f'""")
    assert quoted.stdout == """a b|c"d|e'f|"""
    assert transport.run("false | true").rc == 1, "pipefail is on"
    started = time.monotonic()
    slow = transport.run("sleep 30", timeout=1)
    assert slow.rc == 124
    assert "timed out after 1s" in slow.stderr
    assert time.monotonic() - started < 15
    assert transport.run("id -u", root=True).ok
    missing = transport.run("no-such-command-here")
    assert missing.rc == 127 and "not found" in missing.why()


def test_command_result_unpacks_and_explains():
    result = CommandResult(2, "partial\nlast out\n", "")
    rc, out, err = result
    assert (rc, out, err) == (2, "partial\nlast out\n", "")
    assert result.why() == "last out"
    assert CommandResult(1, "", "").why() == "exit code 1"
    assert CommandResult(1, "out", "first\nthe error\n").why() == "the error"


def test_local_transport():
    transport = LocalTransport()
    assert isinstance(transport, Transport)
    assert transport.has_systemd is False
    _common_behaviour(transport)


def test_local_transport_kills_the_whole_process_group(tmp_path):
    marker = tmp_path / "survived"
    result = LocalTransport().run(f"(sleep 2; touch {marker}) & sleep 30", timeout=0.5)
    assert result.rc == 124
    time.sleep(2.5)
    assert not marker.exists()


def test_machine_transport(fake_machine):
    transport = MachineTransport(fake_machine)
    assert isinstance(transport, Transport)
    assert transport.description == "machine fakevm"
    _common_behaviour(transport)


def test_machine_transport_output_without_newline_and_marker_like_text(fake_machine):
    transport = MachineTransport(fake_machine)
    assert transport.run("printf 'no newline'").stdout == "no newline"
    assert transport.run("printf '\\n@@stderr-x@@\\n'").stdout == "\n@@stderr-x@@\n"
    # stdin travels inside the command, not through a pipe the driver does not have
    assert "secret-value" not in "".join(fake_machine.commands)
    transport.run("cat >/dev/null", stdin="secret-value")
    assert "secret-value" not in fake_machine.commands[-1]


def test_machine_transport_driver_error_is_a_result():
    class Broken:
        def execute(self, command, check_return=True, check_output=True, timeout=900):
            raise ConnectionResetError("VM shell went away")

    result = MachineTransport(Broken()).run("true")
    assert result.rc == 255
    assert "VM shell went away" in result.stderr


def test_ssh_transport_against_real_sshd(sshd_server):
    transport = _ssh(sshd_server)
    assert isinstance(transport, Transport)
    assert transport.has_systemd is True
    _common_behaviour(transport)


def test_ssh_transport_root_commands_use_sudo_for_other_users():
    transport = SSHTransport("litellm.srv.internal", connect_timeout=7)
    argv = transport.argv("true")
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    assert "ConnectTimeout=7" in argv
    assert argv[-5:-1] == ["-l", "tappaas", "--", "litellm.srv.internal"]
    assert argv[argv.index("-l") + 1] == "tappaas"
    assert transport.description == "ssh tappaas@litellm.srv.internal"


def test_ssh_transport_wraps_root_commands_in_sudo(monkeypatch):
    seen: list[list[str]] = []

    def fake_run(argv, timeout, stdin):
        seen.append(list(argv))
        return CommandResult(0, "", "")

    monkeypatch.setattr("tappaas_litellm.verify.transport._run_subprocess", fake_run)
    SSHTransport("vm").run("id -u", root=True)
    SSHTransport("vm", user="root").run("id -u", root=True)
    SSHTransport("vm").run("id -u")
    assert seen[0][-1].startswith('sudo -n env "PATH=$PATH" timeout ')
    assert seen[1][-1].startswith("timeout ")
    assert seen[2][-1].startswith("timeout ")


def test_ssh_transport_unreachable_host_is_a_result():
    started = time.monotonic()
    result = SSHTransport("127.0.0.1", port=free_port(), connect_timeout=3).run("true")
    assert result.rc == 255
    assert "Connection refused" in result.stderr
    assert time.monotonic() - started < 10


def test_ssh_transport_unknown_host_key_is_refused(sshd_server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    transport = SSHTransport(
        "127.0.0.1",
        user=sshd_server.user,
        port=sshd_server.port,
        identity_file=str(sshd_server.identity),
        ssh_options=["-o", f"UserKnownHostsFile={empty}", "-F", "/dev/null"],
    )
    result = transport.run("true")
    assert result.rc == 255
    assert "Host key verification failed" in result.stderr
