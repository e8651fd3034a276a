"""hosts/<name>/local.nix: the host's own settings, imported when present, never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from genhelpers import GOLDEN, nix_eval
from tappaas_litellm.cli import main

# What an admin puts there: a model, its provider key file, and the guide's tuning advice.
LOCAL_NIX = """\
{ ... }:
{
  tappaas.litellm = {
    settings.model_list = [
      {
        model_name = "gpt-4o";
        litellm_params = {
          model = "openai/gpt-4o";
          api_key = "os.environ/OPENAI_API_KEY";
        };
      }
    ];
    environmentFiles = [ "/etc/secrets/litellm-providers.env" ];
    database.sharedBuffers = "768MB";
  };
}
"""


def _generate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["generate", "litellm", "--config", "litellm.json", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _write_local(flake: Path) -> Path:
    local = flake / "hosts" / "litellm" / "local.nix"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(LOCAL_NIX)
    os.utime(local, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return local


def _fingerprint(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, info.st_mode


def test_generate_keeps_local_nix_byte_for_byte(flake: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(flake)
    local = _write_local(flake)
    before = _fingerprint(local)
    host = flake / "hosts" / "litellm" / "default.nix"

    status, out, err = _generate()  # new host file next to an existing local.nix
    assert status == 0, err
    assert out == "wrote hosts/litellm/default.nix\n"
    assert (
        "local settings: hosts/litellm/local.nix is imported by the host and left as it is" in err
    )
    assert _fingerprint(local) == before

    host.write_text("# an edit the next generate overwrites\n")
    status, out, err = _generate()
    assert (status, out) == (0, "updated hosts/litellm/default.nix\n")
    assert _fingerprint(local) == before
    assert host.read_text() == (GOLDEN / "litellm.nix").read_text()

    status, out, _ = _generate()
    assert (status, out) == (0, "unchanged: hosts/litellm/default.nix\n")
    assert _fingerprint(local) == before
    assert sorted(p.name for p in host.parent.iterdir()) == ["default.nix", "local.nix"]


def test_without_local_nix_nothing_is_said_or_created(flake: Path, monkeypatch):
    monkeypatch.chdir(flake)
    status, _, err = _generate()
    assert status == 0, err
    assert "local settings" not in err
    assert not (flake / "hosts" / "litellm" / "local.nix").exists()


def test_an_untracked_local_nix_is_named_with_the_git_command(flake: Path, monkeypatch):
    """Flakes see only files git knows: an untracked local.nix would be skipped silently."""
    git = shutil.which("git")
    assert git, "git is needed (it is in the package's nativeCheckInputs)"
    monkeypatch.chdir(flake)
    subprocess.run([git, "init", "-q"], cwd=flake, check=True, timeout=60)
    local = _write_local(flake)
    status, _, err = _generate()
    assert status == 0, err
    assert (
        "warning: hosts/litellm/local.nix is not tracked by git, so the flake does not see it "
        "and the host is built without it; run: git add hosts/litellm/local.nix"
    ) in err
    subprocess.run([git, "add", "--", "hosts/litellm/local.nix"], cwd=flake, check=True, timeout=60)
    status, _, err = _generate()
    assert status == 0, err
    assert "not tracked" not in err
    assert local.read_text() == LOCAL_NIX


def test_the_host_imports_local_nix_only_when_it_exists(flake: Path, tmp_path: Path, monkeypatch):
    """The generated host, as Nix evaluates it: its imports, and the option local.nix sets."""
    monkeypatch.chdir(flake)
    assert _generate()[0] == 0
    host = flake / "hosts" / "litellm" / "default.nix"
    expr = f"map toString (import {host}).imports\n"
    assert nix_eval(expr, tmp_path, name="without.nix") == [
        str(flake / "modules" / "litellm"),
        str(flake / "modules" / "tappaas-vm.nix"),
    ]

    _write_local(flake)
    imports = nix_eval(expr, tmp_path, name="with.nix")
    assert imports[-1] == str(flake / "hosts" / "litellm" / "local.nix")
    # The module local.nix adds, called as the module system calls it.
    value = nix_eval(
        f"let local = builtins.elemAt (import {host}).imports 2; "
        "in (import local { config = { }; lib = { }; pkgs = { }; }).tappaas.litellm\n",
        tmp_path,
        name="value.nix",
    )
    assert value["database"] == {"sharedBuffers": "768MB"}
    assert value["environmentFiles"] == ["/etc/secrets/litellm-providers.env"]
    assert value["settings"]["model_list"][0]["model_name"] == "gpt-4o"
