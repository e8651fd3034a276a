"""tappaas-datastore: what TAPPaaS's services/datastore/*-service.sh run for a gateway.

The copy of the secrets over SSH runs in tests/test_tappaas_sim.py (TAPPaaS's install-module.sh
of a datastore and two gateways); here: which gateway it serves, and its refusals, exit 1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from genhelpers import DATA
from tappaas_litellm.cli import main


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(DATA / "litellm-db.datastore.json", folder / "litellm-db.json")
    shutil.copy(DATA / "litellm1.gateway.json", folder / "litellm1.json")
    monkeypatch.setenv("TAPPAAS_CONFIG_DIR", str(folder))
    return folder


def run(*args: str):
    return CliRunner().invoke(main, ["tappaas-datastore", *args])


@pytest.mark.parametrize("action", ["install", "update", "test"])
def test_a_listed_gateway_is_served(config_dir: Path, action: str) -> None:
    result = run(action, "litellm1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"Dry run: {action} of datastore litellm-db for litellm1" in result.output


def test_a_gateway_the_datastore_does_not_list_fails_with_1(config_dir: Path) -> None:
    gateway = json.loads((config_dir / "litellm1.json").read_text())
    gateway["vmname"] = "litellm3"
    (config_dir / "litellm3.json").write_text(json.dumps(gateway))
    result = run("install", "litellm3")
    assert result.exit_code == 1
    assert "litellm3 is not in litellm-db's datastoreGateways (litellm1, litellm2)" in result.output


def test_a_module_without_a_datastore_fails_with_1(config_dir: Path) -> None:
    shutil.copy(DATA / "litellm.nested-2026-06.json", config_dir / "litellm.json")
    result = run("install", "litellm")
    assert result.exit_code == 1
    assert "no '<datastore VM>:datastore' in its dependsOn" in result.output
