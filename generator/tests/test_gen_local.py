"""site/hosts/<name>/local.nix: the host's own settings, imported when present, never touched."""

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
    local = flake / "site" / "hosts" / "litellm" / "local.nix"
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
    host = flake / "site" / "hosts" / "litellm" / "default.nix"

    status, out, err = _generate()  # new host file next to an existing local.nix
    assert status == 0, err
    assert out == "wrote site/hosts/litellm/default.nix\n"
    assert (
        "local settings: site/hosts/litellm/local.nix is imported by the host and left as it is"
        in err
    )
    assert _fingerprint(local) == before

    host.write_text("# an edit the next generate overwrites\n")
    status, out, err = _generate()
    assert (status, out) == (0, "updated site/hosts/litellm/default.nix\n")
    assert _fingerprint(local) == before
    site_golden = (
        (GOLDEN / "litellm.nix").read_text().replace("../../modules/", "../../../modules/")
    )
    assert host.read_text() == site_golden

    status, out, _ = _generate()
    assert (status, out) == (0, "unchanged: site/hosts/litellm/default.nix\n")
    assert _fingerprint(local) == before
    assert sorted(p.name for p in host.parent.iterdir()) == ["default.nix", "local.nix"]


def test_without_local_nix_nothing_is_said_or_created(flake: Path, monkeypatch):
    monkeypatch.chdir(flake)
    status, _, err = _generate()
    assert status == 0, err
    assert "local settings" not in err
    assert not (flake / "site" / "hosts" / "litellm" / "local.nix").exists()


def test_generate_makes_local_nix_visible_to_the_flake_without_committing(
    flake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flakes see only files git knows: the site's host and local.nix get an index entry
    (git add --intent-to-add --force; site/ is ignored), and nothing is committed."""
    git = shutil.which("git")
    assert git, "git is needed (it is in the package's nativeCheckInputs)"
    monkeypatch.chdir(flake)
    subprocess.run([git, "init", "-q"], cwd=flake, check=True, timeout=60)
    (flake / ".gitignore").write_text("/site/\n")
    local = _write_local(flake)
    status, _, err = _generate()
    assert status == 0, err
    assert "not known to git" not in err
    assert (
        "made visible to the flake (not committed): $ git add --intent-to-add --force -- "
        "site/hosts/litellm/default.nix site/hosts/litellm/local.nix"
    ) in err
    known = subprocess.run(
        [git, "ls-files", "--", "site"], cwd=flake, capture_output=True, text=True, check=True
    ).stdout.split()
    assert known == ["site/hosts/litellm/default.nix", "site/hosts/litellm/local.nix"]
    log = subprocess.run([git, "log"], cwd=flake, capture_output=True, text=True, check=False)
    assert log.returncode != 0  # still no commit
    assert local.read_text() == LOCAL_NIX


def test_the_host_imports_local_nix_only_when_it_exists(flake: Path, tmp_path: Path, monkeypatch):
    """The generated host, as Nix evaluates it: its imports, and the option local.nix sets."""
    monkeypatch.chdir(flake)
    assert _generate()[0] == 0
    host = flake / "site" / "hosts" / "litellm" / "default.nix"
    expr = f"map toString (import {host}).imports\n"
    assert nix_eval(expr, tmp_path, name="without.nix") == [
        str(flake / "modules" / "litellm"),
        str(flake / "modules" / "tappaas-vm.nix"),
    ]

    _write_local(flake)
    imports = nix_eval(expr, tmp_path, name="with.nix")
    assert imports[-1] == str(flake / "site" / "hosts" / "litellm" / "local.nix")
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
