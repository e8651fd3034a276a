"""docs/options.md, written from the modules' own option declarations.

The declarations are evaluated by nixpkgs' real module system (the lib nixeval pins, shipped
as a tarball in ../shared/tools/nixeval) with nixeval's stand-in pkgs: names, types,
defaults and descriptions come from modules/litellm and modules/tappaas-vm.nix themselves.

    .venv/bin/python tests/docs/optionsdoc.py     # rewrite docs/options.md
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NIXEVAL = ROOT.parent / "shared" / "tools" / "nixeval"
LIB_TARBALL = NIXEVAL / "nixpkgs-lib-d7885204.tar.gz"
OPTIONS_NIX = Path(__file__).resolve().parent / "options.nix"
OPTIONS_MD = ROOT / "docs" / "options.md"
REGENERATE = ".venv/bin/python tests/docs/optionsdoc.py"

HEADER = f"""# Options

Every option the flake's modules declare: `tappaas.litellm` (`nixosModules.litellm`,
`modules/litellm/`) and `tappaas.vm` (`nixosModules.tappaas-vm`, `modules/tappaas-vm.nix`).
What the options add up to (units, container, secrets, sizing) is in [module.md](module.md).

This file is written from the modules' own declarations (`{REGENERATE}`);
`tests/docs/test_docs_options.py` fails when it differs from them.
"""


def declared_options(root: Path = ROOT) -> list[dict[str, Any]]:
    """Every visible `tappaas.*` option, as nixpkgs' optionAttrSetToDocList describes it."""
    if not LIB_TARBALL.is_file():
        raise FileNotFoundError(f"{LIB_TARBALL} is missing: the nixeval tool sits in ../shared")
    with tempfile.TemporaryDirectory(prefix="options-doc-") as tmp:
        with tarfile.open(LIB_TARBALL) as archive:
            archive.extractall(tmp, filter="data")
        result = subprocess.run(
            [
                "nix-instantiate",
                "--eval",
                "--strict",
                "--json",
                "--readonly-mode",
                str(OPTIONS_NIX),
                "--arg",
                "libDir",
                f"{tmp}/lib",
                "--arg",
                "root",
                str(root),
                "--arg",
                "nixeval",
                str(NIXEVAL),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"evaluating the option declarations failed:\n{result.stderr}")
    options: list[dict[str, Any]] = json.loads(result.stdout)
    return options


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text.strip())


def _code(text: str) -> str:
    text = _one_line(text)
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _value(value: object) -> str:
    """A default or example as nixpkgs' manual shows it."""
    if isinstance(value, dict) and value.get("_type") == "literalMD":
        return _one_line(value["text"])
    if isinstance(value, dict) and value.get("_type") == "literalExpression":
        return _code(value["text"])
    return _code(json.dumps(value))


def _prose(description: str) -> str:
    """Nixpkgs' markdown roles as plain markdown: {option}`x` and {var}`x` become `x`."""
    return re.sub(r"\{(?:option|var|env|command|file)\}`", "`", description.strip())


def render(options: list[dict[str, Any]]) -> str:
    parts = [HEADER]
    section = None
    for option in sorted(options, key=lambda o: o["name"]):
        top = ".".join(option["name"].split(".")[:2])
        if top != section:
            section = top
            parts.append(f"## `{top}`\n")
        lines = [f"### `{option['name']}`\n", _prose(option["description"]) + "\n"]
        facts = [f"*Type:* {option['type']}"]
        if option["readOnly"]:
            facts.append("*Read-only*")
        elif option["default"] is not None:  # no default: the option must be set when used
            facts.append(f"*Default:* {_value(option['default'])}")
        if option.get("example") is not None:
            facts.append(f"*Example:* {_value(option['example'])}")
        lines.append("  \n".join(facts) + "\n")
        parts.append("\n".join(lines))
    return "\n".join(parts)


def main() -> int:
    OPTIONS_MD.write_text(render(declared_options()), encoding="utf-8")
    print(f"wrote {OPTIONS_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
