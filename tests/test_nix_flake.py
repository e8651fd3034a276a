"""The flake's Nix files, checked with Debian's Nix (no nixpkgs needed).

Every .nix file parses; flake.nix finds its hosts by reading hosts/; flake.lock
holds exactly the pinned inputs, in the exact bytes `nix flake lock` writes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from nixtools import ROOT, nix_eval

PINNED_LOCK = {
    "nodes": {
        "nixos-generators": {
            "inputs": {"nixlib": ["nixpkgs"], "nixpkgs": ["nixpkgs"]},
            "locked": {
                "lastModified": 1751903740,
                "narHash": "sha256-PeSkNMvkpEvts+9DjFiop1iT2JuBpyknmBUs0Un0a4I=",
                "owner": "nix-community",
                "repo": "nixos-generators",
                "rev": "032decf9db65efed428afd2fa39d80f7089085eb",
                "type": "github",
            },
            "original": {"owner": "nix-community", "repo": "nixos-generators", "type": "github"},
        },
        "nixpkgs": {
            "locked": {
                "lastModified": 1779467186,
                "narHash": "sha256-nOesoDCiXcUftqbRBMz9tt4blI5PvljMWbm3kuCA+0s=",
                "owner": "NixOS",
                "repo": "nixpkgs",
                "rev": "b77b3de8775677f84492abe84635f87b0e153f0f",
                "type": "github",
            },
            "original": {
                "owner": "NixOS",
                "ref": "nixos-25.11",
                "repo": "nixpkgs",
                "type": "github",
            },
        },
        "root": {"inputs": {"nixos-generators": "nixos-generators", "nixpkgs": "nixpkgs"}},
    },
    "root": "root",
    "version": 7,
}

# Stand-in flake inputs: enough for flake.nix's host discovery, nothing more.
STUB_INPUTS = """
let
  flake = import ./flake.nix;
  nixpkgs = {
    lib.nixosSystem = args: { nixosSystemArgs = args; };
    legacyPackages = { };
  };
in
flake.outputs { self = { }; inherit nixpkgs; nixos-generators = { }; }
"""


def nix_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.nix"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(ROOT / f for f in listed if (ROOT / f).is_file())


def test_the_repository_has_its_nix_files() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in nix_files()}
    for required in (
        "flake.nix",
        "modules/litellm/default.nix",
        "modules/litellm/postgresql.nix",
        "modules/litellm/redis.nix",
        "modules/litellm/container.nix",
        "modules/litellm/secrets.nix",
        "modules/litellm/backup.nix",
        "modules/tappaas-vm.nix",
        "hosts/litellm/default.nix",
    ):
        assert required in names


@pytest.mark.parametrize("path", nix_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_nix_file_parses(path: Path) -> None:
    out = subprocess.run(
        ["nix-instantiate", "--parse", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr


def test_flake_lock_holds_exactly_the_pinned_inputs() -> None:
    expected = json.dumps(PINNED_LOCK, sort_keys=True)
    assert nix_eval(
        f"builtins.fromJSON (builtins.readFile ./flake.lock) == builtins.fromJSON ''{expected}''",
        ROOT,
    )


def test_flake_lock_bytes_are_what_nix_flake_lock_writes() -> None:
    # Nix writes the lock with two-space indentation, sorted keys and a final newline.
    written = (ROOT / "flake.lock").read_text()
    assert written == json.dumps(PINNED_LOCK, indent=2, sort_keys=True) + "\n"


def test_flake_inputs_match_the_lock() -> None:
    inputs = nix_eval("(import ./flake.nix).inputs", ROOT)
    assert inputs == {
        "nixpkgs": {"url": "github:NixOS/nixpkgs/nixos-25.11"},
        "nixos-generators": {
            "url": "github:nix-community/nixos-generators",
            "inputs": {"nixpkgs": {"follows": "nixpkgs"}, "nixlib": {"follows": "nixpkgs"}},
        },
    }


def test_flake_outputs_take_only_declared_inputs() -> None:
    # `nix flake check` rejects outputs arguments that are not inputs.
    formals = nix_eval("builtins.functionArgs (import ./flake.nix).outputs", ROOT)
    assert isinstance(formals, dict)
    assert set(formals) <= {"self", "nixpkgs", "nixos-generators"}


def test_every_host_folder_becomes_a_configuration(tmp_path: Path) -> None:
    shutil.copy(ROOT / "flake.nix", tmp_path / "flake.nix")
    hosts = tmp_path / "hosts"
    for name in ("litellm", "litellm-test", "gateway2"):
        (hosts / name).mkdir(parents=True)
        (hosts / name / "default.nix").write_text("{ }\n")
    (hosts / "half-done").mkdir()  # a folder without default.nix is not a host
    (hosts / "README.md").write_text("not a host\n")

    outputs = STUB_INPUTS
    names = nix_eval(f"builtins.attrNames ({outputs}).nixosConfigurations", tmp_path)
    assert names == ["gateway2", "litellm", "litellm-test"]

    first_module = nix_eval(
        f"toString (builtins.head ({outputs}).nixosConfigurations.gateway2"
        ".nixosSystemArgs.modules)",
        tmp_path,
    )
    assert first_module == str(hosts / "gateway2")


def test_a_site_host_replaces_the_sample_of_its_name(tmp_path: Path) -> None:
    shutil.copy(ROOT / "flake.nix", tmp_path / "flake.nix")
    for folder in ("hosts/litellm", "hosts/sample2", "site/hosts/litellm", "site/hosts/gw"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "default.nix").write_text("{ }\n")
    (tmp_path / "site" / "hosts" / "half-done").mkdir()
    modules = nix_eval(
        f"builtins.mapAttrs (n: c: toString (builtins.head c.nixosSystemArgs.modules)) "
        f"({STUB_INPUTS}).nixosConfigurations",
        tmp_path,
    )
    assert modules == {
        "gw": str(tmp_path / "site" / "hosts" / "gw"),
        "litellm": str(tmp_path / "site" / "hosts" / "litellm"),
        "sample2": str(tmp_path / "hosts" / "sample2"),
    }
    assert "/site/" in (ROOT / ".gitignore").read_text().splitlines()
    tracked = subprocess.run(
        ["git", "ls-files", "--", "site"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert tracked == ""  # upstream never tracks a site's files


def test_the_repository_hosts_are_found() -> None:
    names = nix_eval(f"builtins.attrNames ({STUB_INPUTS}).nixosConfigurations", ROOT)
    expected = sorted(p.parent.name for p in (ROOT / "hosts").glob("*/default.nix"))
    assert names == expected
    assert "litellm" in names


def test_flake_exports_the_modules() -> None:
    names = nix_eval(f"builtins.attrNames ({STUB_INPUTS}).nixosModules", ROOT)
    assert names == ["default", "litellm", "tappaas-vm"]
