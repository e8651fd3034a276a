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
