"""The TAPPaaS module contract: install.sh, update.sh, test.sh and services/models/*-service.sh,
driven the way TAPPaaS's install-, update-, test- and delete-module.sh drive them
(tests/tappaas_standin.py), with `tappaas-litellm` replaced by a recording stand-in, and once
with the real tool in --dry-run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tappaas_standin import TappaasStandIn

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "generator" / "tests"))

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
SCRIPTS = [
    "install.sh",
    "update.sh",
    "test.sh",
    "services/models/install-service.sh",
    "services/models/update-service.sh",
    "services/models/delete-service.sh",
    "services/models/test-service.sh",
]


@pytest.fixture
def cluster(tmp_path: Path) -> TappaasStandIn:
    config = tmp_path / "config"
    config.mkdir()
    litellm = json.loads((REPO_ROOT / "litellm.json").read_text())
    litellm["location"] = str(REPO_ROOT)
    (config / "litellm.json").write_text(json.dumps(litellm))
    consumer_dir = tmp_path / "openwebui-module"
    consumer_dir.mkdir()
    (config / "openwebui.json").write_text(
        json.dumps(
            {
                "vmname": "openwebui",
                "zone0": "srvWork",
                "dependsOn": ["cluster:vm", "litellm:models"],
                "location": str(consumer_dir),
            }
        )
    )
    tool = stand_in(tmp_path / "bin", "tappaas-litellm", TOOL)
    return TappaasStandIn(
        config,
        env={"TAPPAAS_LITELLM_TOOL": str(tool), "FAKE_TOOL_LOG": str(tmp_path / "tool.log")},
    )


def tool_calls(cluster: TappaasStandIn) -> list[dict]:
    log = Path(cluster.env["FAKE_TOOL_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def ok(steps) -> None:
    for step in steps:
        assert step.returncode == 0, f"{step.script}: {step.stderr}"


def test_tappaas_accepts_the_module(cluster: TappaasStandIn) -> None:
    assert json.loads((REPO_ROOT / "litellm.json").read_text())["provides"] == ["models"]
    assert cluster.check_provided_services("litellm") == []
    modes = subprocess.run(
        ["git", "ls-files", "-s", "--", *SCRIPTS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    assert len(modes) == len(SCRIPTS), "every script is in git"
    assert all(line.startswith("100755 ") for line in modes), modes


def test_install_module_of_litellm_deploys(cluster: TappaasStandIn) -> None:
    ok(cluster.install_module("litellm"))
    assert tool_calls(cluster) == [{"argv": ["deploy", "litellm"], "cwd": str(REPO_ROOT)}]


def test_update_module_of_litellm_deploys(cluster: TappaasStandIn) -> None:
    ok(cluster.update_module("litellm"))
    assert tool_calls(cluster) == [{"argv": ["deploy", "litellm"], "cwd": str(REPO_ROOT)}]


def test_test_module_of_litellm_verifies(cluster: TappaasStandIn) -> None:
    ok(cluster.test_module("litellm"))
    cluster.env["TAPPAAS_ZONE0_OVERRIDE"] = "srvHome"
    ok(cluster.test_module("litellm"))
    assert [c["argv"] for c in tool_calls(cluster)] == [
        ["verify", "litellm"],
        ["verify", "litellm", "--host", "litellm.srvhome.internal"],
    ]


@pytest.mark.parametrize(
    ("driver", "action"),
    [
        ("install_module", "install"),
        ("update_module", "update"),
        ("test_module", "test"),
        ("delete_module", "delete"),
    ],
)
def test_a_consumer_gets_its_service_call(cluster: TappaasStandIn, driver: str, action: str):
    steps = getattr(cluster, driver)("openwebui")
    ok(steps)
    # called from the consumer's folder; the script works in the flake's folder
    assert steps[0].cwd == cluster.location("openwebui")
    assert tool_calls(cluster) == [
        {"argv": ["tappaas-service", action, "openwebui"], "cwd": str(REPO_ROOT)}
    ]


@pytest.mark.parametrize("action", ["install", "update", "delete", "test"])
def test_dry_run_is_passed_on(cluster: TappaasStandIn, action: str) -> None:
    ok([cluster.service("litellm", "models", action, "openwebui", "--dry-run")])
    assert tool_calls(cluster)[0]["argv"] == ["tappaas-service", action, "openwebui", "--dry-run"]


def test_module_scripts_pass_dry_run_on(cluster: TappaasStandIn) -> None:
    step = cluster._run(REPO_ROOT / "install.sh", ["litellm", "--dry-run"], cwd=REPO_ROOT)
    ok([step])
    assert tool_calls(cluster)[0]["argv"] == ["deploy", "litellm", "--dry-run"]


def test_a_failure_stops_install_with_one_line(cluster: TappaasStandIn) -> None:
    cluster.env["FAKE_TOOL_STATUS"] = "3"
    steps = cluster.install_module("openwebui")
    assert [s.returncode for s in steps] == [3], "install stops at the failed service"
    assert steps[0].stderr.strip().splitlines()[-1] == (
        "litellm: litellm:models install-service for openwebui failed (exit 3)"
    )
    failed = cluster.install_module("litellm")
    assert failed[-1].returncode == 3
    assert (
        failed[-1].stderr.strip().splitlines()[-1] == "litellm: install of litellm failed (exit 3)"
    )


def test_a_failed_test_keeps_its_status(cluster: TappaasStandIn) -> None:
    cluster.env["FAKE_TOOL_STATUS"] = "1"
    assert [s.returncode for s in cluster.test_module("litellm")] == [1]
    cluster.env["FAKE_TOOL_STATUS"] = "2"
    assert [s.returncode for s in cluster.test_module("litellm")] == [2]


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("services/models/install-service.sh", [], "usage: install-service.sh"),
        ("services/models/install-service.sh", ["--force", "x"], "unknown option: --force"),
        ("services/models/update-service.sh", ["a", "b"], "unexpected argument: b"),
        ("install.sh", [], "usage: install.sh <module-name>"),
        ("test.sh", ["--deep"], "usage: test.sh <module-name>"),
    ],
)
def test_bad_arguments_are_one_line(cluster, script: str, args: list[str], message: str) -> None:
    step = cluster._run(REPO_ROOT / script, args, cwd=REPO_ROOT)
    assert step.returncode == 2
    assert len(step.stderr.strip().splitlines()) == 1, step.stderr
    assert step.stderr.startswith(f"litellm: {message}")
    assert tool_calls(cluster) == []


def test_with_the_real_tool_in_dry_run(cluster: TappaasStandIn) -> None:
    real = REPO_ROOT / ".venv" / "bin" / "tappaas-litellm"
    assert real.exists(), "bash dev/setup tool"
    cluster.env["TAPPAAS_LITELLM_TOOL"] = str(real)
    step = cluster.service("litellm", "models", "install", "openwebui", "--dry-run")
    assert step.returncode == 0, step.stderr
    assert (
        "-- tappaas@litellm.srvwork.internal 'sudo litellm-service-keys ensure openwebui'"
        in step.stderr
    )
    assert "-- tappaas@openwebui.srvwork.internal 'sudo sh -c" in step.stderr
    deploy = cluster._run(REPO_ROOT / "install.sh", ["litellm", "--dry-run"], cwd=REPO_ROOT)
    assert deploy.returncode == 0, deploy.stderr
    assert "nixos-rebuild switch --flake '.#litellm'" in deploy.stdout + deploy.stderr


def test_scripts_need_no_cwd(cluster: TappaasStandIn, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(REPO_ROOT / "services", copy / "services")
    shutil.copy(REPO_ROOT / "install.sh", copy / "install.sh")
    step = cluster._run(copy / "install.sh", ["litellm"], cwd=tmp_path)
    ok([step])
    assert tool_calls(cluster) == [{"argv": ["deploy", "litellm"], "cwd": str(copy)}]
