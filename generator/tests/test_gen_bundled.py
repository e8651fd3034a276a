"""A damaged or unreadable installation of the tool ends in one line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from genhelpers import NESTED_SAMPLE
from tappaas_litellm.cli import main
from tappaas_litellm.hostfile import bundled


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tool's bundled files come from a folder of this test."""
    root = tmp_path / "tappaas_litellm"
    (root / "data").mkdir(parents=True)
    (root / "templates").mkdir()
    real = Path(bundled.__file__).parent
    for name in ("data/zones.json", "templates/host.nix.j2"):
        (root / name).write_text((real / name).read_text())
    monkeypatch.setattr(bundled.resources, "files", lambda package: root)
    bundled.read_text.cache_clear()
    yield root
    bundled.read_text.cache_clear()


def _generate(tmp_path: Path) -> tuple[int, list[str]]:
    out = tmp_path / "hosts"
    result = CliRunner().invoke(
        main, ["generate", "litellm", "--config", str(NESTED_SAMPLE), "--out", str(out)]
    )
    assert not (out / "litellm").exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, [line for line in result.stderr.splitlines() if "error" in line]


def test_unreadable_zones(installed: Path, tmp_path: Path) -> None:
    (installed / "data" / "zones.json").unlink()
    (installed / "data" / "zones.json").mkdir()  # unreadable even for root
    status, errors = _generate(tmp_path)
    assert status == 2
    assert errors == [
        f"error: the tool's bundled {installed / 'data' / 'zones.json'} cannot be read: "
        "Is a directory; reinstall tappaas-litellm, or run it with `nix run .#deploy`"
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b'{"srvWork": ', "is damaged (line 1, column 13"), (b"\xff\xfe", "is not UTF-8 text")],
)
def test_damaged_zones(installed: Path, tmp_path: Path, content: bytes, problem: str) -> None:
    (installed / "data" / "zones.json").write_bytes(content)
    status, errors = _generate(tmp_path)
    assert status == 2 and len(errors) == 1
    assert problem in errors[0]


def test_damaged_template(installed: Path, tmp_path: Path) -> None:
    (installed / "templates" / "host.nix.j2").write_text("{% if %}\n")
    status, errors = _generate(tmp_path)
    assert status == 2 and len(errors) == 1
    assert "bundled templates/host.nix.j2 is damaged (line 1" in errors[0]
