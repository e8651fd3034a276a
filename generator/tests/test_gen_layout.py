"""The package keeps a shape a newcomer can read: code sorted by where it runs, small modules,
names that cannot be mistaken for each other.

    hostfile/  the module file in, the host file out (files only, Nix evaluated locally)
    admin/     what runs on the TAPPaaS CI/CD machine and reaches the VM over SSH
    onvm/      what the NixOS module runs as root on the LiteLLM VM
    verify/    the install guide's checks, from the CI/CD machine or on the VM
    common/    the plumbing they share
"""

from __future__ import annotations

from pathlib import Path

import tappaas_litellm

PACKAGE = Path(tappaas_litellm.__file__).parent
MAX_LINES = 400

# Modules allowed above MAX_LINES, each because it is one idea that reads best in one file.
LONG_MODULES = {
    "admin/create.py": "deploy --create: the eight steps of a new VM on Proxmox, one class",
    "onvm/key_reconciler.py": "the service-key reconciler: its state, key files, the key API "
    "and the reconcile, ensure and revoke it drives",
}
SIDES = {"admin", "common", "hostfile", "onvm", "verify"}
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "cli_options.py"}


def _modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts and path.name not in {"__init__.py", "__main__.py"}
    )


def _distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions of one letter."""
    previous = list(range(len(b) + 1))
    for i, letter in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (letter != other))
            )
        previous = current
    return previous[-1]


def test_code_sits_by_where_it_runs() -> None:
    top = {path.name for path in PACKAGE.iterdir() if path.suffix == ".py"}
    folders = {
        path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()
    }
    assert top <= TOP_LEVEL, (
        f"{sorted(top - TOP_LEVEL)}: put it in the folder of where it runs: {sorted(SIDES)}"
    )
    assert folders == SIDES


def test_no_module_is_too_long_to_read() -> None:
    lengths = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in _modules()
    }
    too_long = {
        name: lines
        for name, lines in lengths.items()
        if lines > MAX_LINES and name not in LONG_MODULES
    }
    assert not too_long, f"split these modules (over {MAX_LINES} lines): {too_long}"
    for name in LONG_MODULES:
        assert lengths.get(name, 0) > MAX_LINES, (
            f"{name} is gone or short now: take it off LONG_MODULES"
        )


def test_no_two_module_names_differ_by_one_letter() -> None:
    stems = [path.stem for path in _modules()]
    twice = sorted({stem for stem in stems if stems.count(stem) > 1})
    assert not twice, f"module names used in two folders, name them by what they do: {twice}"
    names = sorted(stems)
    close = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if _distance(a, b) <= 1]
    assert not close, f"module names one letter apart, name them by what they do: {close}"


def test_the_rules_catch_what_they_are_for() -> None:
    assert _distance("service_key", "service_keys") == 1
    assert _distance("upgrade_command", "upgrade_commands") == 1
    assert _distance("report", "result") > 1
    assert _distance("", "ab") == 2
