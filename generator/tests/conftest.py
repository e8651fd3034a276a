"""Fixtures for the tappaas-litellm tool's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from genhelpers import NESTED_SAMPLE, RecordingRunner
from tappaas_litellm.common import process


@pytest.fixture(autouse=True)
def _no_cluster_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never read this machine's /home/tappaas/config or the user's NIX_SSHOPTS."""
    monkeypatch.setenv("TAPPAAS_CONFIG_DIR", str(tmp_path_factory.mktemp("no-config")))
    monkeypatch.delenv("NIX_SSHOPTS", raising=False)


@pytest.fixture
def flake(tmp_path: Path) -> Path:
    """An empty flake folder: flake.nix, hosts/, and the nested sample as litellm.json."""
    root = tmp_path / "flake"
    (root / "hosts").mkdir(parents=True)
    (root / "flake.nix").write_text("{ outputs = _: { }; }\n")
    shutil.copy(NESTED_SAMPLE, root / "litellm.json")
    return root


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> RecordingRunner:
    runner = RecordingRunner()
    monkeypatch.setattr(process, "get_runner", lambda: runner)
    return runner
