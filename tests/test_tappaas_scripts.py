"""The module's TAPPaaS scripts (install.sh, update.sh, test.sh, services/*/*-service.sh) as
thin wrappers: what they pass to `tappaas-litellm` (a recording stand-in of the tool here), the
status they return, their one-line errors. TAPPaaS's own scripts driving them for real, with
the real tool, are in test_tappaas_sim.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "generator" / "tests"))

from genhelpers import stand_in  # noqa: E402

TOOL = """
import json, os, sys
with open(os.environ["FAKE_TOOL_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}) + "\\n")
status = int(os.environ.get("FAKE_TOOL_STATUS", "0"))
if status:
    print("error: the VM did not answer", file=sys.stderr)
sys.exit(status)
"""


class Scripts:
    def __init__(self, tmp_path: Path) -> None:
        self.config = tmp_path / "config"
        self.config.mkdir()
        self.log = tmp_path / "tool.log"
        self.env = {
            **os.environ,
            "TAPPAAS_LITELLM_TOOL": str(stand_in(tmp_path / "bin", "tappaas-litellm", TOOL)),
            "FAKE_TOOL_LOG": str(self.log),
            "TAPPAAS_CONFIG_DIR": str(self.config),
        }

    def module(self, name: str, **fields: object) -> None:
        (self.config / f"{name}.json").write_text(json.dumps(fields))

    def run(self, script: str, *args: str, cwd: Path = ROOT, folder: Path = ROOT):
        return subprocess.run(
            [str(folder / script), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[dict]:
        text = self.log.read_text() if self.log.exists() else ""
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    return Scripts(tmp_path)


@pytest.mark.parametrize("action", ["install", "update", "delete", "test"])
def test_a_service_script_passes_its_consumer_and_dry_run_on(scripts, action: str) -> None:
    result = scripts.run(f"services/models/{action}-service.sh", "openwebui", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert scripts.calls() == [
        {"argv": ["tappaas-service", action, "openwebui", "--dry-run"], "cwd": str(ROOT)}
    ]


@pytest.mark.parametrize(("script", "verb"), [("install.sh", "deploy"), ("update.sh", "deploy")])
def test_install_and_update_deploy(scripts, script: str, verb: str) -> None:
    assert scripts.run(script, "litellm", "--dry-run").returncode == 0
    assert scripts.calls()[0]["argv"] == [verb, "litellm", "--dry-run"]


def test_test_sh_tests_the_vm_the_module_file_names(scripts) -> None:
    scripts.module("litellm", vmname="Gateway1", zone0="srvWork")
    assert scripts.run("test.sh", "litellm").returncode == 0
    scripts.env["TAPPAAS_ZONE0_OVERRIDE"] = "srvTest"
    assert scripts.run("test.sh", "litellm").returncode == 0
    assert [c["argv"] for c in scripts.calls()] == [
        ["verify", "gateway1", "--host", "gateway1.srvwork.internal"],
        ["verify", "gateway1", "--host", "gateway1.srvtest.internal"],
    ]


def test_a_failure_keeps_its_status_and_ends_with_one_line(scripts) -> None:
    scripts.module("litellm", vmname="litellm", zone0="srvWork")
    for status in ("1", "3"):
        scripts.env["FAKE_TOOL_STATUS"] = status
        service = scripts.run("services/models/install-service.sh", "openwebui")
        assert service.returncode == int(status)
        assert service.stderr.strip().splitlines()[-1] == (
            f"litellm: litellm:models install-service for openwebui failed (exit {status})"
        )
        install = scripts.run("install.sh", "litellm")
        assert install.stderr.strip().splitlines()[-1] == (
            f"litellm: install of litellm failed (exit {status})"
        )
        assert scripts.run("test.sh", "litellm").returncode == int(status)


@pytest.mark.parametrize(
    ("script", "args", "status", "message"),
    [
        # TAPPaaS's service scripts die with 1; 2 would be fatal (a rollback of the consumer).
        ("services/models/install-service.sh", [], 1, "usage: install-service.sh"),
        ("services/models/install-service.sh", ["--force", "x"], 1, "unknown option: --force"),
        ("services/models/update-service.sh", ["a", "b"], 1, "unexpected argument: b"),
        ("install.sh", [], 2, "usage: install.sh <module-name>"),
        ("test.sh", ["--deep"], 2, "usage: test.sh <module-name>"),
        ("test.sh", ["litellm", "--dry-run"], 2, "usage: test.sh <module-name>"),
        ("test.sh", ["nothere"], 2, "nothere.json: missing or not a JSON object"),
    ],
)
def test_bad_arguments_are_one_line(scripts, script, args, status, message) -> None:
    result = scripts.run(script, *args)
    assert result.returncode == status
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("litellm: ") and message in result.stderr
    assert scripts.calls() == []


def test_scripts_need_no_cwd(scripts, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "services", copy / "services")
    shutil.copy(ROOT / "install.sh", copy / "install.sh")
    result = scripts.run("install.sh", "litellm", cwd=tmp_path, folder=copy)
    assert result.returncode == 0, result.stderr
    assert scripts.calls() == [{"argv": ["deploy", "litellm"], "cwd": str(copy)}]
