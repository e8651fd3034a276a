"""Evaluating Nix expressions with Debian's Nix (no nixpkgs) in the tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def nix_eval(expr: str, cwd: Path = ROOT) -> object:
    """The value of a Nix expression (paths relative to `cwd`), as JSON."""
    out = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "--expr", expr],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# nixeval: nixpkgs' real module system over a mirror of the NixOS 25.11 options; it ships
# beside the project as ../shared/tools/nixeval (here and in CI), and needs nix-instantiate
# and jq (dev/setup installs both).
NIXEVAL = ROOT.parent / "shared" / "tools" / "nixeval" / "eval.sh"


def nixeval(*args: str | Path) -> tuple[int, dict, str]:
    """eval.sh's exit status, its JSON report and its stderr."""
    assert NIXEVAL.is_file(), f"{NIXEVAL} is missing: the project expects shared/ beside it"
    out = subprocess.run(
        [str(NIXEVAL), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return out.returncode, json.loads(out.stdout or "{}"), out.stderr


def golden_host_text(name: str = "litellm") -> str:
    """The generator's golden host file `name`, importing this checkout's modules wherever it is
    written (the golden files import ../../modules from hosts/<name>/)."""
    golden = ROOT / "generator" / "tests" / "golden" / f"{name}.nix"
    return golden.read_text().replace("../../modules", str(ROOT / "modules"))
