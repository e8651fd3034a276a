"""key: read LITELLM_MASTER_KEY over SSH and print only its value."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from genhelpers import RecordingRunner, path_with, run_cli, stand_in
from tappaas_litellm.admin.master_key import master_key_from_env

MASTER = "sk-" + "a1" * 32
ENV_FILE = f"""LITELLM_MASTER_KEY={MASTER}
LITELLM_SALT_KEY=sk-{"b2" * 32}
DATABASE_PASSWORD={"c3" * 32}
REDIS_PASSWORD={"d4" * 32}
UI_USERNAME=admin
UI_PASSWORD=very-secret-ui-password-0123456789
"""
OTHER_SECRETS = ["b2" * 32, "c3" * 32, "d4" * 32, "very-secret-ui-password"]


def _key(*args: str) -> Result:
    return run_cli("key", "litellm", *args)


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `ssh` on PATH that records its arguments and prints the VM's env file."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (tmp_path / "litellm.env").write_text(ENV_FILE)
    stand_in(
        folder,
        "ssh",
        f"""
        import os, sys
        with open({str(tmp_path / "ssh.args")!r}, "w") as out:
            out.write("\\n".join(sys.argv[1:]) + "\\n")
        if os.environ.get("FAKE_SSH_FAIL") == "1":
            print("ssh: connect: No route to host", file=sys.stderr)
            sys.exit(255)
        with open({str(tmp_path / "litellm.env")!r}) as env:
            sys.stdout.write(env.read())
        """,
    )
    monkeypatch.setenv("PATH", path_with(folder))
    return tmp_path


def test_key_from_the_default_host(flake: Path, fake_ssh: Path, monkeypatch) -> None:
    monkeypatch.chdir(flake)
    result = _key()
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{MASTER}\n"
    assert (fake_ssh / "ssh.args").read_text().splitlines() == [
        "--", "tappaas@litellm.srvwork.internal", "sudo", "cat", "/etc/secrets/litellm.env"
    ]  # fmt: skip
    assert "using module file litellm.json" in result.stderr
    for secret in OTHER_SECRETS:
        assert secret not in result.output


@pytest.mark.parametrize(
    ("host", "target"), [("10.2.20.15", "tappaas@10.2.20.15"), ("root@vm", "root@vm")]
)
def test_key_from_a_given_host(fake_ssh: Path, tmp_path: Path, host: str, target: str, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no module file is needed with --host
    result = _key("--host", host)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{MASTER}\n"
    assert (fake_ssh / "ssh.args").read_text().splitlines()[:2] == ["--", target]


def test_ssh_failure_shows_ssh_only(fake_ssh: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_SSH_FAIL", "1")
    result = _key("--host", "vm")
    assert result.exit_code == 255
    assert "No route to host" in result.stderr
    assert "hint: check that `ssh tappaas@vm" in result.stderr
    assert result.stdout == ""


def test_exact_argv_through_the_runner(recorder: RecordingRunner) -> None:
    recorder.responses["ssh"] = (0, 'export LITELLM_MASTER_KEY="sk-quoted"\n', "")
    result = _key("--host", "vm.srvwork.internal")
    assert result.stdout == "sk-quoted\n"
    assert [(c.argv, c.capture) for c in recorder.calls] == [
        (
            ["ssh", "--", "tappaas@vm.srvwork.internal", "sudo", "cat", "/etc/secrets/litellm.env"],
            True,
        )
    ]


def test_no_master_key_in_the_file(recorder: RecordingRunner) -> None:
    recorder.responses["ssh"] = (0, "UI_PASSWORD=x\n", "")
    result = _key("--host", "vm")
    assert result.exit_code == 1
    assert "error: /etc/secrets/litellm.env on tappaas@vm has no LITELLM_MASTER_KEY" in (
        result.stderr
    )
    assert "UI_PASSWORD" not in result.output


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("LITELLM_MASTER_KEY=sk-1\n", "sk-1"),
        ("  LITELLM_MASTER_KEY = 'sk-2'  \n", "sk-2"),
        ("# LITELLM_MASTER_KEY=no\nLITELLM_MASTER_KEY_OLD=no\nLITELLM_MASTER_KEY=sk-3", "sk-3"),
        ("LITELLM_MASTER_KEY=\n", None),
        ("", None),
    ],
)
def test_master_key_from_env(text: str, value: str | None) -> None:
    assert master_key_from_env(text) == value
