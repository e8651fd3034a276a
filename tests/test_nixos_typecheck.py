"""The NixOS test scripts type-check against the typed stand-in of the test driver, and the
checker catches what the Nix build's mypy run would reject."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from nixtools import ROOT

TESTS = ROOT / "nixos-tests"
CHECK = TESTS / "typecheck" / "check.py"


def run_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), str(folder)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_every_script_type_checks() -> None:
    result = run_check(TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = set(re.findall(r"^ok  (\S+\.py) ", result.stdout, re.M))
    scripts = {
        p.relative_to(TESTS).as_posix()
        for p in TESTS.rglob("*.py")
        if p.relative_to(TESTS).parts[0] not in ("typecheck", "common")
    }
    assert checked == scripts
    # Every test's folder has its script.
    assert {s.split("/")[0] for s in scripts} == {
        p.parent.name for p in TESTS.glob("*/default.nix")
    }
    assert "scaleout/scaleout.py (nodes: client, datastore, gateway1, gateway2)" in result.stdout


def test_no_vm_test_skips_the_type_check() -> None:
    for nix in TESTS.rglob("*.nix"):
        assert "skipTypeCheck" not in nix.read_text(), nix


def _copy(tmp_path: Path, script: str, body: str) -> Path:
    folder = tmp_path / "nixos-tests"
    folder.mkdir()
    (folder / "two.nix").write_text(
        "{\n  nodes = {\n    server = ./x.nix;\n    client-a = { };\n  };\n"
        f"  testScript = builtins.readFile ./{script};\n}}\n"
    )
    (folder / script).write_text(body)
    return folder


def test_a_wrong_call_is_reported_at_the_scripts_line(tmp_path: Path) -> None:
    body = (
        "start_all()\n"
        'server.wait_for_unit("x.service", timeout="60")\n'
        'client_a.succeed("true")\n'
        'machine.succeed("true")\n'
        "log = server.succeed('true')\n"
    )
    folder = _copy(tmp_path, "two.py", body)
    result = run_check(folder)
    assert result.returncode == 1, result.stdout
    out = result.stdout
    assert re.search(rf"{re.escape(str(folder / 'two.py'))}:2: error: .*\"timeout\"", out), out
    # Two nodes: no `machine`.
    assert f'{folder / "two.py"}:4: error: Name "machine" is not defined' in out, out
    # The driver's logger cannot be replaced by a string.
    assert f"{folder / 'two.py'}:5: error: Incompatible types in assignment" in out, out
    assert ":3:" not in out, out


def test_a_script_no_test_uses_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "two.py", "start_all()\n")
    shutil.copy(folder / "two.py", folder / "orphan.py")
    result = run_check(folder)
    assert result.returncode == 2
    assert f"{folder / 'orphan.py'}: no .nix file in {folder} uses it" in result.stderr


def test_a_shared_helper_is_put_in_front_of_the_script(tmp_path: Path) -> None:
    # The layout of nixos-tests/: the test's folder reads ../common/hi.py before its script.
    folder = tmp_path / "nixos-tests"
    (folder / "one").mkdir(parents=True)
    (folder / "one" / "default.nix").write_text(
        "{\n  nodes.server = ./node.nix;\n"
        "  testScript = builtins.readFile ../common/hi.py + builtins.readFile ./one.py;\n}\n"
    )
    (folder / "one" / "one.py").write_text("start_all()\nserver.succeed(greeting())\n")
    (folder / "common").mkdir()
    helper = folder / "common" / "hi.py"
    helper.write_text("def greeting() -> str:\n    return 'true'\n")
    result = run_check(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok  one/one.py (nodes: server, machine)" in result.stdout
    helper.write_text("def greeting() -> int:\n    return 1\n")
    result = run_check(folder)
    assert result.returncode == 1, result.stdout
    assert f'{folder / "one" / "one.py"}:2: error: Argument 1 to "succeed"' in result.stdout


def test_a_shared_helper_no_test_reads_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "two.py", "start_all()\n")
    (folder / "common").mkdir()
    (folder / "common" / "unused.py").write_text("X = 1\n")
    result = run_check(folder)
    assert result.returncode == 2
    assert f"{folder / 'common' / 'unused.py'}: no .nix file in {folder} reads it" in result.stderr
