"""deploy: the plan (--dry-run), the exact commands and their order, failures and hints."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from genhelpers import (
    GOLDEN,
    RecordingRunner,
    path_with,
    run_cli,
    shown_commands,
    shown_steps,
    stand_in,
)
from tappaas_litellm.admin import deploy as deploy_module

DEFAULT_TARGET = "tappaas@litellm.srvwork.internal"
SSHOPTS = "NIX_SSHOPTS='-o StrictHostKeyChecking=accept-new'"
GIT_DIFF = "git diff HEAD --name-only -- hosts/litellm/default.nix modules/litellm/image.json"


def _deploy(*args: str) -> Result:
    return run_cli("deploy", "litellm", *args)


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []

    def fake_verify(name: str, host: str | None, **kwargs: object) -> int:
        calls.append((name, host, kwargs))
        return 0

    monkeypatch.setattr(deploy_module, "run_verify", fake_verify)
    return calls


class _Readiness(BaseHTTPRequestHandler):
    failures_left = 0

    def do_GET(self) -> None:
        server = self.server
        if self.path != "/health/readiness" or server.failures_left > 0:  # type: ignore[attr-defined]
            server.failures_left -= 1  # type: ignore[attr-defined]
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps({"status": "healthy", "db": "connected"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def litellm_ready() -> Iterator[ThreadingHTTPServer]:
    """A stand-in for the VM's /health/readiness: two 503s, then 200."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Readiness)
    server.failures_left = 2  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def git_flake(flake: Path) -> Path:
    for argv in (["git", "init", "-q"], ["git", "add", "flake.nix", "litellm.json"]):
        subprocess.run(argv, cwd=flake, check=True)
    return flake


def test_dry_run_plan_default_target(flake: Path, recorder: RecordingRunner, monkeypatch):
    monkeypatch.chdir(flake)
    result = _deploy("--dry-run")
    assert result.exit_code == 0, result.output
    assert shown_steps(result.stdout) == [
        "[1/5] Generate the host file",
        "[2/5] Make the site's host visible to the flake (git add --intent-to-add)",
        f"[3/5] Build and switch litellm on {DEFAULT_TARGET}",
        "[4/5] Wait until LiteLLM is ready",
        "[5/5] Verify the deployment",
    ]
    assert shown_commands(result.stdout) == [
        "git rev-parse --is-inside-work-tree",
        "git add --intent-to-add --force -- site/hosts/litellm/default.nix",
        GIT_DIFF,
        f"{SSHOPTS} nixos-rebuild switch --flake '.#litellm' --target-host {DEFAULT_TARGET} --sudo",
    ]
    out = result.stdout
    assert "would write site/hosts/litellm/default.nix (new)" in out
    assert "GET http://litellm.srvwork.internal:4000/health/readiness" in out
    assert "tappaas-litellm verify litellm --host litellm.srvwork.internal --user tappaas " in out
    assert out.endswith("Dry run complete. Read the master key with: tappaas-litellm key litellm\n")
    # Nothing ran and nothing was written.
    assert recorder.calls == []
    assert list((flake / "hosts").iterdir()) == [] and not (flake / "site").exists()


def test_dry_run_plan_overridden_target(flake: Path, recorder: RecordingRunner, monkeypatch):
    monkeypatch.chdir(flake)
    monkeypatch.setenv("NIX_SSHOPTS", "-p 2222")  # the user's own ssh options are kept
    result = _deploy(
        "--dry-run", "--target-host", "admin@10.2.20.15", "--build-host", "builder.mgmt.internal"
    )
    assert result.exit_code == 0, result.output
    assert shown_commands(result.stdout) == [
        "git rev-parse --is-inside-work-tree",
        "git add --intent-to-add --force -- site/hosts/litellm/default.nix",
        GIT_DIFF,
        "nixos-rebuild switch --flake '.#litellm' --target-host admin@10.2.20.15 --sudo "
        "--build-host builder.mgmt.internal",
    ]
    assert "GET http://10.2.20.15:4000/health/readiness" in result.stdout
    assert "verify litellm --host 10.2.20.15 --user admin" in result.stdout
    assert result.stdout.endswith("tappaas-litellm key litellm --host admin@10.2.20.15\n")
    assert recorder.calls == []


def test_bare_target_host_means_the_tappaas_user(flake: Path, recorder, monkeypatch) -> None:
    monkeypatch.chdir(flake)
    result = _deploy("--dry-run", "--target-host", "10.2.20.15")
    assert "--target-host tappaas@10.2.20.15 --sudo" in shown_commands(result.stdout)[-1]
    assert "verify litellm --host 10.2.20.15 --user tappaas" in result.stdout


def test_vm_named_differently_from_the_file(flake: Path, recorder, monkeypatch) -> None:
    monkeypatch.chdir(flake)
    data = json.loads((flake / "litellm.json").read_text()) | {"vmname": "gw", "zone0": "srvHome"}
    (flake / "litellm.json").write_text(json.dumps(data))
    refused = _deploy("--dry-run")
    assert refused.exit_code == 2 and "its vmname is 'gw', not 'litellm'" in refused.stderr
    assert "$ " not in refused.stdout and recorder.calls == []
    result = _deploy("--dry-run", "--other-vmname")
    assert result.exit_code == 0, result.output
    assert "note: the module file names the VM 'gw': the host is gw, not litellm" in result.stdout
    assert "host folder: site/hosts/gw/ (the module file's vmname gw)" in result.stdout
    assert shown_commands(result.stdout)[1:] == [
        "git add --intent-to-add --force -- site/hosts/gw/default.nix",
        "git diff HEAD --name-only -- hosts/gw/default.nix modules/litellm/image.json",
        f"{SSHOPTS} nixos-rebuild switch --flake '.#gw' --target-host tappaas@gw.srvhome.internal "
        "--sudo",
    ]


def test_deploy_runs_the_commands_in_order(
    flake: Path, recorder: RecordingRunner, verified: list, litellm_ready, monkeypatch
):
    monkeypatch.chdir(flake)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    port = str(litellm_ready.server_address[1])
    result = _deploy("--target-host", "tappaas@127.0.0.1", "--port", port, "--wait-timeout", "20")
    assert result.exit_code == 0, result.output
    assert [(c.argv, c.cwd, c.env) for c in recorder.calls] == [
        (["git", "rev-parse", "--is-inside-work-tree"], flake, {}),
        (
            ["git", "add", "--intent-to-add", "--force", "--", "site/hosts/litellm/default.nix"],
            flake,
            {},
        ),
        (GIT_DIFF.split(), flake, {}),
        (
            [
                *("nixos-rebuild", "switch", "--flake", ".#litellm"),
                *("--target-host", "tappaas@127.0.0.1", "--sudo"),
            ],
            flake,
            {"NIX_SSHOPTS": "-o StrictHostKeyChecking=accept-new"},
        ),
    ]
    assert [c.capture for c in recorder.calls] == [True, True, True, False]  # rebuild streams
    assert verified == [("litellm", "127.0.0.1", {"user": "tappaas", "flake_dir": flake})]
    # The site's host: the sample's golden file, one folder deeper.
    host = flake / "site" / "hosts" / "litellm" / "default.nix"
    golden = (GOLDEN / "litellm.nix").read_text().replace("../../modules/", "../../../modules/")
    assert host.read_text() == golden
    assert list((flake / "hosts").iterdir()) == []  # upstream's hosts/ is not written
    assert 'ready: {"status": "healthy"' in result.stdout
    assert result.stdout.endswith(
        "Deployed litellm. Read the master key with: tappaas-litellm key litellm "
        "--host tappaas@127.0.0.1\n"
    )


def test_deploy_with_real_git_and_a_stand_in_nixos_rebuild(
    git_flake: Path, tmp_path: Path, verified: list, litellm_ready, monkeypatch
):
    """Real subprocesses: git, and a nixos-rebuild stand-in that checks what it is given."""
    log = tmp_path / "nixos-rebuild.log"
    stand_in(
        tmp_path / "bin",
        "nixos-rebuild",
        f"""
        import os, subprocess, sys
        known = subprocess.run(["git", "ls-files", "--", "site/hosts/litellm/default.nix"],
                               capture_output=True, text=True, check=True, timeout=30).stdout
        lines = [*sys.argv[1:], "cwd=" + os.getcwd(), "NIX_SSHOPTS=" + os.environ["NIX_SSHOPTS"]]
        with open({str(log)!r}, "w") as out:
            out.write("\\n".join(lines) + "\\n" + known)
        print("building the system configuration...")
        """,
    )
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.chdir(git_flake)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    port = str(litellm_ready.server_address[1])
    result = _deploy("--target-host", "tappaas@127.0.0.1", "--port", port, "--wait-timeout", "20")
    assert result.exit_code == 0, result.output
    assert log.read_text().splitlines() == [
        "switch", "--flake", ".#litellm", "--target-host", "tappaas@127.0.0.1", "--sudo",
        f"cwd={git_flake}",
        "NIX_SSHOPTS=-o StrictHostKeyChecking=accept-new",
        "site/hosts/litellm/default.nix",  # git knows the new file when nixos-rebuild runs
    ]  # fmt: skip
    assert len(verified) == 1


def test_failing_rebuild_stops_with_its_status_and_a_hint(
    git_flake: Path, tmp_path: Path, verified: list, monkeypatch
):
    stand_in(
        tmp_path / "bin",
        "nixos-rebuild",
        """
        import sys
        print("error: cannot connect", file=sys.stderr)
        sys.exit(3)
        """,
    )
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.chdir(git_flake)
    result = _deploy()
    assert result.exit_code == 3
    assert "error: step 3/5 failed: nixos-rebuild exited with status 3" in result.stderr
    assert f"hint: check that `ssh {DEFAULT_TARGET} sudo true` works" in result.stderr
    assert "[4/5]" not in result.stdout and verified == []


def test_missing_nixos_rebuild(git_flake: Path, tmp_path: Path, verified: list, monkeypatch):
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    git = shutil.which("git")
    assert git, "git is needed"
    (only_git / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(only_git))
    monkeypatch.chdir(git_flake)
    result = _deploy()
    assert result.exit_code == 127
    assert "error: step 3/5: nixos-rebuild not found" in result.stderr
    assert verified == []


def test_not_a_git_work_tree(flake: Path, verified: list, monkeypatch) -> None:
    monkeypatch.chdir(flake)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(flake.parent))
    result = _deploy()
    assert result.exit_code == 128
    assert "error: step 2/5 failed: git exited with status 128" in result.stderr
    assert "flakes only see files git tracks" in result.stderr
    assert "[3/5]" not in result.stdout and verified == []


def test_readiness_timeout(flake: Path, recorder: RecordingRunner, verified: list, monkeypatch):
    monkeypatch.chdir(flake)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    result = _deploy("--target-host", "tappaas@127.0.0.1", "--port", "9", "--wait-timeout", "0.3")
    assert result.exit_code == 1
    assert (
        "error: step 4/5: http://127.0.0.1:9/health/readiness did not answer within 0.3 s"
        in result.stderr
    )
    assert "hint: look at the services on the VM" in result.stderr
    assert verified == []


def test_failed_verification(
    flake: Path, recorder: RecordingRunner, litellm_ready, monkeypatch
) -> None:
    monkeypatch.chdir(flake)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(deploy_module, "run_verify", lambda *a, **k: 4)
    port = str(litellm_ready.server_address[1])
    result = _deploy("--target-host", "tappaas@127.0.0.1", "--port", port, "--wait-timeout", "20")
    assert result.exit_code == 4
    assert "error: step 5/5: verification of litellm failed" in result.stderr


def test_bad_input_stops_before_any_command(flake: Path, recorder: RecordingRunner, monkeypatch):
    monkeypatch.chdir(flake)
    (flake / "litellm.json").write_text('{"vmid": 1}')
    result = _deploy()
    assert result.exit_code == 2
    assert "error: litellm.json: .vmid: 1 is out of range" in result.stderr
    assert recorder.calls == [] and list((flake / "hosts").iterdir()) == []
    assert not (flake / "site").exists()


def test_flake_dir_without_flake(tmp_path: Path, recorder: RecordingRunner) -> None:
    result = _deploy("--flake-dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"error: --flake-dir {tmp_path}: no flake.nix there" in result.stderr
    assert recorder.calls == []


def test_local_nix_is_made_visible_to_the_flake_too(
    git_flake: Path, tmp_path: Path, verified: list, litellm_ready, monkeypatch
):
    """An untracked local.nix would be invisible to the flake: the host would build without it."""
    local = git_flake / "site" / "hosts" / "litellm" / "local.nix"
    local.parent.mkdir(parents=True)
    local.write_text('{ tappaas.litellm.database.sharedBuffers = "768MB"; }\n')
    stand_in(tmp_path / "bin", "nixos-rebuild", "print('built')\n")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.chdir(git_flake)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    port = str(litellm_ready.server_address[1])
    result = _deploy("--target-host", "tappaas@127.0.0.1", "--port", port, "--wait-timeout", "20")
    assert result.exit_code == 0, result.output
    assert (
        "$ git add --intent-to-add --force -- site/hosts/litellm/default.nix "
        "site/hosts/litellm/local.nix" in result.stdout
    )
    known = subprocess.run(
        ["git", "ls-files", "--", "site/hosts/litellm"],
        cwd=git_flake, capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    assert known == ["site/hosts/litellm/default.nix", "site/hosts/litellm/local.nix"]
