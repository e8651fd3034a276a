"""Type-check every NixOS test script (nixos-tests/<test>/*.py) as the Nix build does.

The NixOS test driver runs mypy over each test script with the driver's names
prepended (`start_all`, `subtest`, ... and one `<node>: Machine` per node). This
does the same here, without Nix: prelude.py and the typed stand-in of the driver
in test_driver/ take the place of the real driver; the nodes of each script are
read from the .nix file beside it that uses it, and the shared helpers
(common/*.py) that file reads in front of the script are put in front here too.
Errors are reported at the script's own line numbers.

    python nixos-tests/typecheck/check.py [FOLDER]    (default: nixos-tests)

Exit status: 0 every script type-checks, 1 type errors, 2 a script no .nix file
uses, or a helper in common/ no test reads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRELUDE = HERE / "prelude.py"
# mypy's options in nixpkgs' nixos/lib/testing/driver.nix.
MYPY_OPTIONS = ["--no-implicit-optional", "--no-color-output", "--show-error-codes"]

NODE_ATTR = re.compile(r"^\s*nodes\.([A-Za-z_][A-Za-z0-9_-]*)\s*=", re.M)
NODES_BLOCK = re.compile(r"^(\s*)nodes\s*=\s*\{\n(.*?)^\1\};", re.M | re.S)
BLOCK_ENTRY = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_-]*)\s*=")


def node_names(nix_text: str) -> list[str]:
    """The test's nodes, from `nodes.<name> = ...` or a `nodes = { <name> = ...; }` block."""
    names = NODE_ATTR.findall(nix_text)
    for match in NODES_BLOCK.finditer(nix_text):
        body = match.group(2)
        indents = [m.group(1) for m in map(BLOCK_ENTRY.match, body.splitlines()) if m]
        if not indents:
            continue
        depth = min(len(indent) for indent in indents)
        for line in body.splitlines():
            entry = BLOCK_ENTRY.match(line)
            if entry and len(entry.group(1)) == depth:
                names.append(entry.group(2))
    return sorted(set(names))


def machine_lines(nodes: list[str]) -> list[str]:
    # As the driver names them (dashes become underscores); with exactly one node
    # it is also `machine`, unless it is called that already.
    names = [node.replace("-", "_") for node in nodes]
    if len(names) == 1 and "machine" not in names:
        names.append("machine")
    return [f"{name}: Machine" for name in names]


# Folders of the test tree that hold no test script of their own.
NOT_TESTS = {"typecheck", "common"}
READ_PY = re.compile(r"builtins\.readFile\s+(\.\.?/[A-Za-z0-9_./-]+\.py)\b")


def read_scripts(nix: Path) -> list[Path]:
    """The .py files a .nix file reads (`builtins.readFile ./x.py`, `../common/y.py`), in order."""
    return [(nix.parent / name).resolve() for name in READ_PY.findall(nix.read_text())]


def common_files(script: Path, users: list[Path]) -> list[Path]:
    """The helpers the .nix files put in front of the script, in order."""
    helpers: list[Path] = []
    for nix in users:
        for path in read_scripts(nix):
            if path != script.resolve() and path not in helpers:
                helpers.append(path)
    return helpers


def users_of(script: Path) -> list[Path]:
    """The .nix files beside the script that use it: its test's default.nix."""
    pattern = re.compile(rf"\./{re.escape(script.name)}\b")
    return sorted(nix for nix in script.parent.glob("*.nix") if pattern.search(nix.read_text()))


def scripts_of(folder: Path) -> list[Path]:
    """Every test script: each .py file of the tree outside typecheck/ and common/."""
    return sorted(
        path for path in folder.rglob("*.py") if path.relative_to(folder).parts[0] not in NOT_TESTS
    )


def unread_helpers(folder: Path) -> list[Path]:
    """Helpers in common/ that no .nix file of the tree reads."""
    read = {path for nix in folder.rglob("*.nix") for path in read_scripts(nix)}
    return sorted(p for p in (folder / "common").glob("*.py") if p.resolve() not in read)


def check(folder: Path) -> int:
    scripts = scripts_of(folder)
    problems = [f"{helper}: no .nix file in {folder} reads it" for helper in unread_helpers(folder)]
    typed: list[tuple[Path, Path, int]] = []
    with tempfile.TemporaryDirectory(prefix="nixos-typecheck-") as tmp:
        for script in scripts:
            users = users_of(script)
            if not users:
                problems.append(f"{script}: no .nix file in {script.parent} uses it")
                continue
            nodes = sorted({n for nix in users for n in node_names(nix.read_text())})
            if not nodes:
                problems.append(f"{script}: no nodes found in {', '.join(map(str, users))}")
                continue
            head = PRELUDE.read_text().rstrip("\n").splitlines() + machine_lines(nodes)
            for common in common_files(script, users):
                head += common.read_text().rstrip("\n").splitlines()
            # A folder of its own per script, mypy's working directory: no script sees another.
            target = Path(tmp) / str(len(typed)) / script.name
            target.parent.mkdir()
            target.write_text("\n".join(head) + "\n" + script.read_text())
            typed.append((script, target, len(head)))
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            return 2
        status = 0
        for script, target, offset in typed:
            env = dict(os.environ, MYPYPATH=str(HERE))
            result = subprocess.run(
                [sys.executable, "-m", "mypy", *MYPY_OPTIONS, "--cache-dir",
                 str(Path(tmp) / ".mypy_cache"), str(target)],
                capture_output=True, text=True, env=env, cwd=target.parent, timeout=300, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                print(
                    f"ok  {script.relative_to(folder)} (nodes: {', '.join(machine_lines_names(target))})"
                )
                continue
            status = 1
            for line in (result.stdout + result.stderr).splitlines():
                print(relocate(line, target, script, offset))
        return status


def machine_lines_names(target: Path) -> list[str]:
    return re.findall(r"^(\w+): Machine$", target.read_text(), re.M)


def relocate(line: str, target: Path, script: Path, offset: int) -> str:
    """`x.py:57: error: ...` -> `nixos-tests/<test>/x.py:12: error: ...`."""
    match = re.match(rf"^{re.escape(target.name)}:(\d+):(.*)$", line)
    if not match:
        return line
    number = int(match.group(1))
    if number <= offset:
        return (
            f"{target.name}:{number}:{match.group(2)} (driver prelude or common/ of {script.name})"
        )
    return f"{script}:{number - offset}:{match.group(2)}"


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent
    return check(folder)


if __name__ == "__main__":
    sys.exit(main())
