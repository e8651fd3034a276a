"""Every path a VM test names (`./node.nix`, `../common/client.nix`, `../../tests/upstream.py`)
is a file of the repository: the VM tests cannot be built here, so a wrong import would
otherwise only show when a user runs `nix flake check`. `nix-instantiate --parse` prints each
path literal of a file as the absolute path it stands for."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from nixtools import ROOT

TESTS = ROOT / "nixos-tests"


def path_literals(nix: Path, root: Path) -> list[Path]:
    """The paths a .nix file of the repository at `root` names, resolved as Nix resolves
    them; one `../` too many (a path beside the repository) is among them too."""
    parsed = subprocess.run(
        ["nix-instantiate", "--parse", str(nix)], capture_output=True, text=True, check=False
    )
    assert parsed.returncode == 0, parsed.stderr
    beside = re.escape(str(root.resolve().parent))
    return [Path(p) for p in re.findall(rf"{beside}/[A-Za-z0-9._+/-]*", parsed.stdout)]


def broken_paths(nix: Path, root: Path) -> list[str]:
    broken = []
    for path in path_literals(nix, root):
        if not path.is_relative_to(root):
            broken.append(f"{path}: outside the repository")
        elif not path.exists():
            broken.append(f"{path}: no such file")
        elif path.is_dir() and not (path / "default.nix").is_file():
            broken.append(f"{path}: a folder without default.nix")
    return broken


@pytest.mark.parametrize(
    "nix", sorted(TESTS.rglob("*.nix")), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_every_path_a_vm_test_names_exists(nix: Path) -> None:
    assert broken_paths(nix, ROOT) == []


def test_the_flake_checks_name_one_folder_per_test() -> None:
    named = path_literals(TESTS / "default.nix", ROOT)
    assert sorted(p.relative_to(TESTS).as_posix() for p in named) == [
        "adopt",
        "faults",
        "litellm",
        "scaleout",
        "tappaas",
        "upgrade",
    ]


def test_a_wrong_import_is_found(tmp_path: Path) -> None:
    test = tmp_path / "repo" / "nixos-tests" / "one"
    test.mkdir(parents=True)
    (test / "node.nix").write_text("{ }\n")
    (test / "default.nix").write_text(
        "{\n  nodes.machine = ./node.nix;\n  nodes.client = ./client.nix;\n"
        "  nodes.other = ../../../elsewhere.nix;\n  nodes.folder = ../one;\n"
        "  nodes.empty = ../../nixos-tests;\n}\n"
    )
    assert sorted(broken_paths(test / "default.nix", tmp_path / "repo")) == [
        f"{tmp_path / 'elsewhere.nix'}: outside the repository",
        f"{test / 'client.nix'}: no such file",
        f"{tmp_path / 'repo' / 'nixos-tests'}: a folder without default.nix",
    ]
