"""site/: where a site's host, local.nix and image pin live; a site from the earlier layout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from genhelpers import run_cli
from tappaas_litellm.admin import site
from tappaas_litellm.verify.verify_cli import host_domain


def _host(folder: Path, domain: str) -> None:
    folder.mkdir(parents=True)
    (folder / "default.nix").write_text(f'{{ networking.domain = "{domain}"; }}\n')


def test_the_site_host_wins_over_the_sample(flake: Path) -> None:
    _host(flake / "hosts" / "litellm", "sample.internal")
    assert site.host_dir(flake, "litellm") == flake / "hosts" / "litellm"
    assert host_domain("litellm", flake) == "sample.internal"
    _host(flake / "site" / "hosts" / "litellm", "srvhome.internal")
    assert site.host_dir(flake, "litellm") == flake / "site" / "hosts" / "litellm"
    assert host_domain("litellm", flake) == "srvhome.internal"


def test_settings_left_in_the_old_place_stop_deploy_before_anything(
    flake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An earlier version kept local.nix in hosts/<name>/: a deploy now would build the site's
    # host without it (its models, keys, tuning gone from the VM).
    old = flake / "hosts" / "litellm" / "local.nix"
    old.parent.mkdir(parents=True)
    old.write_text('{ tappaas.litellm.database.sharedBuffers = "768MB"; }\n')
    monkeypatch.chdir(flake)
    result = run_cli("deploy", "litellm")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1
    assert "hosts/litellm/local.nix is where earlier versions kept your settings" in errors[0]
    assert "mv hosts/litellm/local.nix site/hosts/litellm/" in errors[0]
    assert not (flake / "site").exists()
    assert [p.name for p in old.parent.iterdir()] == ["local.nix"]


def test_upstream_files_an_earlier_version_changed_are_named(flake: Path) -> None:
    git = ["git", "-c", "user.name=u", "-c", "user.email=u@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=flake, check=True, timeout=60)
    sample = flake / "hosts" / "litellm" / "default.nix"
    sample.parent.mkdir(parents=True)
    sample.write_text("{ }\n")
    pin = flake / "modules" / "litellm" / "image.json"
    pin.parent.mkdir(parents=True)
    pin.write_text("{}\n")
    subprocess.run([*git, "add", "-A"], cwd=flake, check=True, timeout=60)
    subprocess.run([*git, "commit", "-q", "-m", "upstream"], cwd=flake, check=True, timeout=60)
    command = site.changed_upstream_command(flake, "litellm")

    def run() -> str:
        return subprocess.run(
            command.argv, cwd=flake, capture_output=True, text=True, check=True, timeout=60
        ).stdout

    assert site.changed_upstream_warnings(run(), "litellm") == []
    sample.write_text("# an earlier deploy's host\n{ }\n")
    pin.write_text('{"finalImageTag": "v1.90.0"}\n')
    warnings = site.changed_upstream_warnings(run(), "litellm")
    assert len(warnings) == 2
    assert warnings[0].endswith("git checkout -- hosts/litellm/default.nix")
    assert "cp modules/litellm/image.json site/hosts/litellm/image.json" in warnings[1]
