"""The committed sample host is exactly what the tool writes from the bundled litellm.json."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nixtools import ROOT


def test_generate_reproduces_the_committed_host(tmp_path: Path) -> None:
    # A copy of the parts generate reads, so the checkout itself is never written.
    shutil.copy(ROOT / "litellm.json", tmp_path / "litellm.json")
    shutil.copy(ROOT / "flake.nix", tmp_path / "flake.nix")
    shutil.copytree(ROOT / "modules", tmp_path / "modules")
    out = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "tappaas-litellm"),
            "generate",
            "litellm",
            "--config",
            "litellm.json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TAPPAAS_CONFIG_DIR": str(tmp_path / "no-config-dir")},
    )
    assert out.returncode == 0, out.stderr
    assert "wrote hosts/litellm/default.nix" in out.stdout + out.stderr
    generated = (tmp_path / "hosts" / "litellm" / "default.nix").read_text()
    assert generated == (ROOT / "hosts" / "litellm" / "default.nix").read_text()


def test_the_tool_shows_what_the_module_derives() -> None:
    from tappaas_litellm.process import Runner
    from tappaas_litellm.sizing import derived_sizing

    derived = derived_sizing(ROOT, 4, 4096, Runner())
    assert derived is not None
    assert derived["workers"] == 4
    assert derived["redis"]["maxMemory"] == "512mb"
