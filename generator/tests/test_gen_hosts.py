"""Hostile hosts never reach ssh or nixos-rebuild: one line, exit 2, nothing run or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from genhelpers import RecordingRunner, run_cli
from tappaas_litellm.common.ssh_target import check_host, parse_target

HOSTILE = [
    "-oProxyCommand=touch /tmp/pwned@y",
    "-oProxyCommand=touch /tmp/pwned",
    "tappaas@-oProxyCommand=sh",
    "-l",
    "vm;touch /tmp/pwned",
    "$(touch /tmp/pwned)",
    "vm name",
    "vm\nother",
    "user@",
    "@vm",
    "a@b@c",
    "fe80::1%$(id)",
    "",
]


_run = run_cli


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("value", HOSTILE)
def test_key_refuses_a_hostile_host(value: str, recorder: RecordingRunner) -> None:
    line = _one_error_line(_run("key", "litellm", "--host", value))
    assert line.startswith("error: --host ")
    assert recorder.calls == []


@pytest.mark.parametrize("value", HOSTILE)
def test_deploy_refuses_a_hostile_target_host(
    value: str, flake: Path, recorder: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(flake)
    line = _one_error_line(_run("deploy", "litellm", "--target-host", value))
    assert line.startswith("error: --target-host ")
    assert recorder.calls == []
    assert list((flake / "hosts").iterdir()) == []


@pytest.mark.parametrize("value", [v for v in HOSTILE if v])
def test_deploy_refuses_a_hostile_build_host(
    value: str, flake: Path, recorder: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(flake)
    line = _one_error_line(_run("deploy", "litellm", "--build-host", value))
    assert line.startswith("error: --build-host ")
    assert recorder.calls == []
    assert list((flake / "hosts").iterdir()) == []


@pytest.mark.parametrize("value", [v for v in HOSTILE if "@" not in v])
def test_verify_refuses_a_hostile_host(value: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    line = _one_error_line(
        _run("verify", "litellm", "--host", value, "--ssh-option", f"-oProxyCommand=touch {marker}")
    )
    assert line.startswith("error: --host ")
    assert not marker.exists()


@pytest.mark.parametrize("value", ["-oProxyCommand=sh", "root;id", "a b", ""])
def test_verify_refuses_a_hostile_user(value: str) -> None:
    line = _one_error_line(_run("verify", "litellm", "--host", "vm", "--user", value))
    assert line.startswith("error: --user ")


@pytest.mark.parametrize(
    ("value", "user", "host"),
    [
        ("vm", "tappaas", "vm"),
        ("litellm.srvwork.internal", "tappaas", "litellm.srvwork.internal"),
        ("admin@10.2.20.15", "admin", "10.2.20.15"),
        ("root@fe80::1", "root", "fe80::1"),
        ("svc_user.x-1@vm-2.example", "svc_user.x-1", "vm-2.example"),
    ],
)
def test_good_targets(value: str, user: str, host: str) -> None:
    target = parse_target(value, "--target-host")
    assert (target.user, target.host) == (user, host)
    assert str(target) == f"{user}@{host}"


@pytest.mark.parametrize("value", ["1.2.3.4", "::1", "a.b-c.d", "x" * 63])
def test_good_hosts(value: str) -> None:
    assert check_host(value, "--host") == value


@pytest.mark.parametrize("value", ["-x", "a..b", "a-.b", "x" * 64, "a_b", "a/b"])
def test_bad_hosts(value: str) -> None:
    with pytest.raises(Exception, match="not a host name or address"):
        check_host(value, "--host")


def test_one_quoting_helper() -> None:
    """Every command line the tool builds quotes through tappaas_litellm.common.shell."""
    import tappaas_litellm

    package = Path(tappaas_litellm.__file__).parent
    users = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "shlex" in path.read_text(encoding="utf-8")
    )
    assert users == ["common/shell.py"]
