"""Type-check every NixOS test script (nixos-tests/*.py) as the Nix build does.

The NixOS test driver runs mypy over each test script with the driver's names
prepended (`start_all`, `subtest`, ... and one `<node>: Machine` per node). This
does the same here, without Nix: prelude.py and the typed stand-in of the driver
in test_driver/ take the place of the real driver; the nodes of each script are
read from the .nix file that uses it. Errors are reported at the script's own
line numbers.

    python nixos-tests/typecheck/check.py [FOLDER]    (default: nixos-tests)

Exit status: 0 every script type-checks, 1 type errors, 2 a script no .nix file uses.
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


COMMON = re.compile(r"builtins\.readFile\s+\./(common/[A-Za-z0-9_-]+\.py)")


def common_files(users: list[Path], folder: Path) -> list[Path]:
    """Helper files (common/*.py) the .nix files put in front of the script, in order."""
    names: list[str] = []
    for nix in users:
        for name in COMMON.findall(nix.read_text()):
            if name not in names:
                names.append(name)
    return [folder / name for name in names]


def users_of(script: Path, folder: Path) -> list[Path]:
    pattern = re.compile(rf"\./{re.escape(script.name)}\b")
    return sorted(nix for nix in folder.glob("*.nix") if pattern.search(nix.read_text()))


def check(folder: Path) -> int:
    scripts = sorted(folder.glob("*.py"))
    problems: list[str] = []
    typed: list[tuple[Path, Path, int]] = []
    with tempfile.TemporaryDirectory(prefix="nixos-typecheck-") as tmp:
        for script in scripts:
            users = users_of(script, folder)
            if not users:
                problems.append(f"{script}: no .nix file in {folder} uses it")
                continue
            nodes = sorted({n for nix in users for n in node_names(nix.read_text())})
            if not nodes:
                problems.append(f"{script}: no nodes found in {', '.join(map(str, users))}")
                continue
            head = PRELUDE.read_text().rstrip("\n").splitlines() + machine_lines(nodes)
            for common in common_files(users, folder):
                head += common.read_text().rstrip("\n").splitlines()
            target = Path(tmp) / f"{script.stem}.py"
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
                capture_output=True, text=True, env=env, cwd=tmp, timeout=300, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                print(f"ok  {script.name} (nodes: {', '.join(machine_lines_names(target))})")
                continue
            status = 1
            for line in (result.stdout + result.stderr).splitlines():
                print(relocate(line, target, script, offset))
        return status


def machine_lines_names(target: Path) -> list[str]:
    return re.findall(r"^(\w+): Machine$", target.read_text(), re.M)


def relocate(line: str, target: Path, script: Path, offset: int) -> str:
    """`<tmp>/x.py:57: error: ...` -> `nixos-tests/x.py:12: error: ...`."""
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
