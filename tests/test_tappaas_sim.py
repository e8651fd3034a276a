"""TAPPaaS's own lifecycle scripts, unmodified, drive this flake on a simulated cluster.

Every scenario runs in `dev/tappaas-sim` (see tests/tappaas_sim/machines.py): TAPPaaS's
install-module.sh, update-module.sh, test-module.sh and delete-module.sh from
../shared/reference/tappaas run for real; only the other machines (Proxmox nodes, VMs,
firewall) are stand-ins, which record what reached them. A test asserts the exit status
TAPPaaS sees and the commands that reached each machine.

A cluster with litellm installed is made once and copied for each scenario.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TAPPAAS = (ROOT / ".." / "shared" / "reference" / "tappaas").resolve()
VM = "litellm.srvwork.internal"
FLAKE = "/home/tappaas/litellm"
OPENWEBUI = "/home/tappaas/TAPPaaS/src/apps/openwebui"


@dataclass
class Run:
    status: int
    output: str
    log: list[str]  # "<machine>: <command>", in order

    def on(self, machine: str) -> list[str]:
        return [line.split(": ", 1)[1] for line in self.log if line.startswith(machine + ": ")]

    def has(self, machine: str, start: str) -> bool:
        return any(command.startswith(start) for command in self.on(machine))


def sim(folder: Path, script: str, timeout: float = 240) -> Run:
    """`script` (bash) on the simulated CI/CD machine whose state is in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "commands.log"
    log.write_text("")
    env = {
        **os.environ,
        "TAPPAAS_SIM_DIR": str(folder),
        "TAPPAAS_SIM_LOG": str(log),
        "TAPPAAS_SIM_QUIET": "1",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "dev" / "tappaas-sim"), "bash", "-c", "set -euo pipefail\n" + script],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout + result.stderr, log.read_text().splitlines())


def rebuilt(run: Run, host: str = "litellm", vm: str = VM) -> bool:
    """The deploy's switch reached the VM (however the flake reference is spelled)."""
    return any(
        c.startswith("nixos-rebuild switch ")
        and f"#{host}" in c
        and f"--target-host tappaas@{vm}" in c
        for c in run.on("tappaas-cicd")
    )


def tappaas_os_update(run: Run) -> bool:
    """TAPPaaS's update-os.sh (templates:nixos) rebuilt a VM from /etc/nixos."""
    return any("sudo nixos-rebuild switch" in line for line in run.log)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Run]:
    """A fresh cluster, then `install-module.sh litellm` in this flake's folder."""
    folder = tmp_path_factory.mktemp("installed")
    run = sim(folder, f"cd {FLAKE} && install-module.sh litellm")
    return folder, run


@pytest.fixture
def cluster(installed, tmp_path) -> Path:
    """A copy of the installed cluster, for one scenario."""
    folder = tmp_path / "sim"
    shutil.copytree(installed[0], folder, symlinks=True)
    return folder


def test_the_tappaas_tree_is_the_reference_copy_byte_for_byte(installed) -> None:
    folder, _ = installed
    link = folder / "home" / "TAPPaaS"
    assert link.is_symlink() and link.resolve() == TAPPAAS

    def digest(tree: Path) -> dict[str, str]:
        return {
            str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tree.rglob("*"))
            if p.is_file()
        }

    expected = digest(TAPPAAS)
    assert digest(link.resolve()) == expected
    assert (folder / "home" / "bin" / "install-module.sh").resolve() == (
        TAPPAAS / "src/foundation/tappaas-cicd/scripts/install-module.sh"
    )
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    ours = {
        hashlib.sha256((ROOT / name).read_bytes()).hexdigest()
        for name in tracked
        if name and (ROOT / name).is_file() and (ROOT / name).stat().st_size > 200
    }
    code = {name: sha for name, sha in expected.items() if name.endswith((".sh", ".nix", ".py"))}
    copied = [name for name, sha in code.items() if sha in ours]
    assert not copied, f"TAPPaaS's code stays in ../shared, not in the project: {copied}"


def test_install_module_on_a_fresh_cluster(installed) -> None:
    folder, run = installed
    assert run.status == 0, run.output
    assert "Module 'litellm' installed successfully" in run.output
    assert run.has("tappaas2.mgmt.internal", "/root/tappaas/Create-TAPPaaS-VM.sh litellm")
    assert run.has("firewall", "caddy-manager add-domain litellm.example.org")
    assert rebuilt(run)
    assert not tappaas_os_update(run), "the flake's deploy owns the NixOS switch"
    assert run.has(VM, "sudo systemctl is-active -- ") or run.has(VM, "systemctl is-active")
    assert (folder / "home/litellm/site/hosts/litellm/default.nix").is_file()
    # The site's host never shows as a change to a tracked file: a later pull cannot conflict.
    status = subprocess.run(
        ["git", "-C", str(folder / "home/litellm"), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [line for line in status if line[:2].strip() not in ("", "A")] == [], status


def test_test_module_after_the_install(cluster) -> None:
    run = sim(
        cluster,
        'cd "$(jq -r .location /home/tappaas/config/litellm.json)" && test-module.sh litellm',
    )
    assert run.status == 0, run.output
    assert "All tests passed for module 'litellm'" in run.output
    assert run.has("tappaas2.mgmt.internal", "pvesh get /cluster/resources")
    assert run.has(VM, "curl -K -")
    assert not rebuilt(run)


@pytest.mark.timeout(600)
def test_a_consumer_gets_its_key_is_tested_and_deleted(cluster) -> None:
    run = sim(cluster, f"cd {OPENWEBUI} && install-module.sh openwebui")
    assert run.status == 0, run.output
    assert run.has(VM, "sudo litellm-service-keys ensure openwebui")
    assert run.has("openwebui.srvwork.internal", "sudo sh -c ")
    assert run.has("firewall", "rules-manager add-rules openwebui"), "the pinhole to port 4000"
    env = sim(
        cluster, "ssh tappaas@openwebui.srvwork.internal sudo cat /etc/secrets/litellm-svckey.env"
    )
    key = sim(cluster, f"ssh tappaas@{VM} sudo cat /etc/secrets/litellm-svc-openwebui.key")
    assert key.output.startswith("sk-")
    assert f"LITELLM_API_KEY={key.output.strip()}\n" in env.output
    assert "LITELLM_BASE_URL=http://litellm.srvwork.internal:4000/v1" in env.output

    run = sim(cluster, f"cd {OPENWEBUI} && test-module.sh openwebui")
    assert run.status == 0, run.output
    assert run.has(VM, "sudo litellm-service-keys test openwebui")
    assert "all 1 model(s) stored in the database have an api_key" in run.output

    # The key file lost on the LiteLLM VM: the consumer's test fails (1, no rollback), so
    # TAPPaaS updates it with --force, and the update gets it a new key.
    sim(cluster, f"ssh tappaas@{VM} sudo rm -f -- /etc/secrets/litellm-svc-openwebui.key")
    run = sim(cluster, f"cd {OPENWEBUI} && update-module.sh --force openwebui")
    assert "replaced  litellm-svc-openwebui" in run.output
    assert not run.has("tappaas2.mgmt.internal", "qm rollback")
    new = sim(cluster, f"ssh tappaas@{VM} sudo cat /etc/secrets/litellm-svc-openwebui.key").output
    assert new.startswith("sk-") and new != key.output
    env = sim(
        cluster, "ssh tappaas@openwebui.srvwork.internal sudo cat /etc/secrets/litellm-svckey.env"
    )
    assert f"LITELLM_API_KEY={new.strip()}\n" in env.output

    run = sim(cluster, "delete-module.sh openwebui --yes")
    assert run.status == 0, run.output
    assert run.has(VM, "sudo litellm-service-keys revoke openwebui")
    assert run.has("openwebui.srvwork.internal", "sudo rm -f -- /etc/secrets/litellm-svckey.env")
    gone = sim(cluster, f"ssh tappaas@{VM} sudo cat /etc/secrets/litellm-svc-openwebui.key")
    assert gone.status == 1


def test_a_consumers_bad_module_file_is_a_failure_not_fatal(cluster) -> None:
    services = f"{FLAKE}/services/models"
    run = sim(cluster, f"{services}/test-service.sh nothere")
    assert run.status == 1, run.output
    assert "consuming module config not found: /home/tappaas/config/nothere.json" in run.output
    run = sim(cluster, f"{services}/test-service.sh a b")
    assert run.status == 1
    # TAPPaaS's vmname pattern allows capitals: the VM and its key go by the lower-case name.
    run = sim(
        cluster,
        'jq \'.vmname = "OpenWebUI" | .zone0 = "srvWork"\' ~/config/litellm.json '
        "> ~/config/caps.json && "
        f"ssh tappaas@{VM} true && {services}/install-service.sh caps || echo status $?",
    )
    assert run.has(VM, "sudo litellm-service-keys ensure openwebui"), run.output


def test_update_after_a_change_to_the_flake(cluster) -> None:
    run = sim(
        cluster,
        f"cd {FLAKE} && echo '# a change upstream' >> modules/litellm/default.nix && "
        "git commit -qam 'a change' && update-module.sh litellm",
    )
    assert run.status == 0, run.output
    assert run.has("tappaas2.mgmt.internal", "qm snapshot 310 ")
    assert rebuilt(run)
    assert not run.has("tappaas2.mgmt.internal", "qm rollback")
    assert not tappaas_os_update(run)
    assert "Module 'litellm' updated successfully" in run.output


def test_update_after_an_edit_of_the_installed_module_file(cluster) -> None:
    # The admin gives the VM 8 cores; upstream gives it more memory: Step 0 keeps both.
    run = sim(
        cluster,
        # Scratch files in the simulation's own folder, never a fixed name in /tmp.
        'cfg=~/config/litellm.json; new="$TAPPAAS_SIM_DIR/new.json"; '
        'jq \'.config["cluster:vm"].cores = 8\' "$cfg" > "$new" && cat "$new" > "$cfg" && '
        f'cd {FLAKE} && jq \'.config["cluster:vm"].memory = "6144"\' litellm.json > "$new" && '
        "cat \"$new\" > litellm.json && git commit -qam 'more memory' && "
        "update-module.sh litellm && jq -c '.config[\"cluster:vm\"]' ~/config/litellm.json",
    )
    assert run.status == 0, run.output
    assert '"cores":8' in run.output and '"memory":"6144"' in run.output
    assert any("--cores 8" in c and "--memory 6144" in c for c in run.on("tappaas2.mgmt.internal"))
    assert rebuilt(run)
    host = (cluster / "home/litellm/site/hosts/litellm/default.nix").read_text()
    assert "8 vCPU / 6144 MiB" in host


def test_a_variant_install(cluster) -> None:
    run = sim(
        cluster,
        f"cd {FLAKE} && install-module.sh litellm --variant test && test-module.sh litellm-test",
    )
    assert run.status == 0, run.output
    assert run.has("tappaas2.mgmt.internal", "/root/tappaas/Create-TAPPaaS-VM.sh litellm-test")
    assert rebuilt(run, "litellm-test", "litellm-test.srvwork.internal")
    assert (cluster / "home/litellm/site/hosts/litellm-test/default.nix").is_file()
    assert run.has("litellm-test.srvwork.internal", "curl -K -")


@pytest.mark.timeout(600)
def test_a_failing_update_rolls_back_as_tappaas_would(cluster) -> None:
    # A pre-update test failure: TAPPaaS aborts (exit 2) before touching the VM.
    sim(cluster, "echo podman-litellm.service > $TAPPAAS_SIM_DIR/state/broken-units")
    broken = sim(cluster, f"cd {FLAKE} && update-module.sh litellm")
    assert broken.status == 2, broken.output
    assert "Pre-update tests failed" in broken.output
    assert not rebuilt(broken)
    # A host that does not build: update.sh fails, TAPPaaS rolls back to its snapshot.
    run = sim(
        cluster,
        "rm $TAPPAAS_SIM_DIR/state/broken-units && "
        f"cd {FLAKE} && echo '{{ broken' > site/hosts/litellm/local.nix && "
        "update-module.sh litellm",
    )
    assert run.status == 2, run.output
    assert "Module update.sh failed" in run.output
    commands = run.on("tappaas2.mgmt.internal")
    rollback = next(i for i, c in enumerate(commands) if c.startswith("qm rollback 310 "))
    assert any(c.startswith("qm snapshot 310 ") for c in commands[:rollback])
    assert "Post-rollback tests passed" in run.output


def test_delete_module(cluster) -> None:
    run = sim(cluster, "delete-module.sh litellm --yes && jq -r .status ~/config/litellm.json")
    assert run.status == 0, run.output
    assert run.has("tappaas2.mgmt.internal", "qm destroy 310 --purge")
    assert run.has("firewall", "caddy-manager delete-domain litellm.example.org")
    assert run.output.strip().endswith("archived")


@pytest.mark.timeout(600)
def test_moving_a_tappaas_installed_litellm_to_this_flake(tmp_path) -> None:
    """A cluster whose litellm came from TAPPaaS's own module (templates:nixos, its
    litellm.nix), switched to this flake by its .location, then update-module.sh."""
    folder = tmp_path / "sim"
    tappaas_litellm = "/home/tappaas/TAPPaaS/src/apps/litellm"
    services = "/home/tappaas/TAPPaaS/src/foundation"
    run = sim(
        folder,
        f"cd {tappaas_litellm} && copy-update-json.sh litellm && "
        f"{services}/cluster/services/vm/install-service.sh litellm && "
        f"{services}/templates/services/nixos/install-service.sh litellm",
    )
    assert run.status == 0, run.output
    assert tappaas_os_update(run), "the guide's VM: TAPPaaS's litellm.nix in /etc/nixos"
    run = sim(
        folder,
        'cfg=~/config/litellm.json; new="$TAPPAAS_SIM_DIR/new.json"; '
        f'jq \'.location = "{FLAKE}"\' "$cfg" > "$new" && cat "$new" > "$cfg" && '
        f"cd {FLAKE} && update-module.sh --force litellm && "
        "jq -c .dependsOn ~/config/litellm.json",
    )
    assert run.status == 0, run.output
    assert rebuilt(run)
    assert not tappaas_os_update(run), "no templates:nixos update after the move"
    assert '["cluster:vm","backup:vm","firewall:proxy","firewall:rules"]' in run.output.splitlines()
    assert sim(folder, f"cd {FLAKE} && test-module.sh litellm").status == 0


@pytest.mark.timeout(600)
def test_a_datastore_and_two_gateways(cluster) -> None:
    samples = f"{FLAKE}/generator/tests/data"
    run = sim(
        cluster,
        f"cd {FLAKE} && cp {samples}/litellm-db.datastore.json litellm-db.json && "
        f"cp {samples}/litellm1.gateway.json litellm1.json && "
        'jq \'.vmname = "litellm2" | .vmid = 322 | .config["firewall:dns"].ip = "10.2.20.22"\''
        " litellm1.json > litellm2.json && "
        "install-module.sh litellm-db && install-module.sh litellm1 && "
        "install-module.sh litellm2 && test-module.sh litellm1",
    )
    assert run.status == 0, run.output
    for name in ("litellm-db", "litellm1", "litellm2"):
        assert rebuilt(run, name, f"{name}.srvwork.internal")
    assert run.has("litellm-db.srvwork.internal", "sudo tar -C /etc -czf - secrets")
    assert run.has("litellm1.srvwork.internal", "sudo tar -C /etc -xzf -")
    assert run.has("litellm2.srvwork.internal", "sudo tar -C /etc -xzf -")
    assert run.has("litellm1.srvwork.internal", "sudo sha256sum -- /etc/secrets/litellm.env")
    assert "litellm-db is a datastore: no LiteLLM to wait for or verify" in run.output
