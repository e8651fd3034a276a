"""The tool's Nix package brings every program the tool runs (generator/package.nix).

package.nix is called with stand-ins for nixpkgs (every package a store path of its own name,
buildPythonApplication handing back its arguments) and evaluated with Debian's Nix: the
wrapper's PATH must hold the package of every program the source runs, so nothing comes from
the user's shell.
"""

from __future__ import annotations

import re

import pytest
from nixtools import ROOT, nix_eval

SOURCE = ROOT / "generator" / "src" / "tappaas_litellm"

# Program -> (the package argument of package.nix that brings it, a source file that runs it).
PROGRAMS = {
    "nix": ("nix", "admin/create.py"),
    "nix-instantiate": ("nix", "hostfile/sizing.py"),
    "nixos-rebuild": ("nixos-rebuild", "admin/deploy.py"),
    "git": ("git", "admin/site.py"),
    "ssh": ("openssh", "admin/master_key.py"),
    "scp": ("openssh", "admin/create.py"),
    "ssh-keygen": ("openssh", "admin/create.py"),
    "nix-prefetch-docker": ("nix-prefetch-docker", "admin/image_pin.py"),
}

CALL = """
args:
let
  fake = name: { outPath = "/nix/store/${name}"; inherit name; };
  lib = {
    optionals = cond: xs: if cond then xs else [ ];
    makeBinPath = ps: builtins.concatStringsSep ":" (map (p: "${p.outPath}/bin") ps);
    getExe = p: "${p.outPath}/bin/${p.name}";
    fileset = { toSource = _: "src"; unions = xs: xs; };
  };
  package = import ./generator/package.nix ({
    inherit lib;
    python3Packages = {
      buildPythonApplication = a: a;
      setuptools = fake "setuptools";
      click = fake "click";
      pydantic = fake "pydantic";
      jinja2 = fake "jinja2";
      pytestCheckHook = fake "pytest-check-hook";
      hypothesis = fake "hypothesis";
      pytest-timeout = fake "pytest-timeout";
    };
    linkFarm = name: _: fake name;
    nix = fake "nix";
    git = fake "git";
    openssh = fake "openssh";
    nixos-rebuild-ng = fake "nixos-rebuild-ng";
    nix-prefetch-docker = fake "nix-prefetch-docker";
    skopeo = fake "skopeo";
  } // args);
in
package.makeWrapperArgs
"""

# The store path each package argument puts on PATH (nixos-rebuild: the link farm that
# names nixos-rebuild-ng nixos-rebuild).
ON_PATH = {
    "nix": "/nix/store/nix/bin",
    "nixos-rebuild": "/nix/store/nixos-rebuild-ng-as-nixos-rebuild/bin",
    "git": "/nix/store/git/bin",
    "openssh": "/nix/store/openssh/bin",
    "nix-prefetch-docker": "/nix/store/nix-prefetch-docker/bin",
}


def wrapper_path(args: str = "{ }") -> list[str]:
    value = nix_eval(f"({CALL}) {args}")
    assert isinstance(value, list)
    if not value:
        return []
    assert value[:3] == ["--prefix", "PATH", ":"] and len(value) == 4, value
    return value[3].split(":")


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_the_wrapper_brings_every_program_the_tool_runs(program: str) -> None:
    package, runs_it = PROGRAMS[program]
    assert f'"{program}"' in (SOURCE / runs_it).read_text(), f"{runs_it} no longer runs {program}"
    assert ON_PATH[package] in wrapper_path()


def test_skopeo_is_there_for_nix_prefetch_docker() -> None:
    assert "/nix/store/skopeo/bin" in wrapper_path()


def test_every_program_run_from_the_source_is_listed() -> None:
    """Commands started by the tool itself: the first word of an argv literal."""
    started = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        started |= set(re.findall(r'(?:\[|\(|\*\()\s*"((?:nix|ssh)(?:-[a-z]+)*|scp|git)",', text))
    assert started <= set(PROGRAMS), started - set(PROGRAMS)


def test_the_vms_copy_wraps_nothing() -> None:
    """The LiteLLM VM's copy (service keys only) takes no deploy tools."""
    assert wrapper_path("{ withDeployTools = false; }") == []
