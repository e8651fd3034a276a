"""deploy --create: the plan, the refusal on a taken VM id, and a first install from nothing.

Proxmox is played by a stand-in `ssh` that answers `qm status`, `qm config`, `qmrestore`,
`qm set` and `qm start` the way a node does and records every command it was asked to run;
`scp`, `nix`, `ssh-keygen` and `nixos-rebuild` are stand-ins that record too. git is real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from genhelpers import (
    FLAT_SAMPLE,
    NESTED_SAMPLE,
    RecordingRunner,
    path_with,
    run_cli,
    shown_commands,
    shown_steps,
    stand_in,
    zones_with_active,
)
from tappaas_litellm.admin import create as create_module
from tappaas_litellm.admin import deploy as deploy_module

KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHt2Yp0c5mV0bXBsZS1rZXktZm9yLXRlc3Rz tappaas@tappaas-cicd"
)
NODE = "root@tappaas2.mgmt.internal"
NODE_SSH = f"ssh -o BatchMode=yes -o ConnectTimeout=10 -- {NODE}"
VM_SSH_OPTIONS = (
    "-o BatchMode=yes -o ConnectTimeout=5 -o ServerAliveInterval=5 -o ServerAliveCountMax=2 "
    "-o StrictHostKeyChecking=accept-new"
)
STAGING = "/var/tmp/tappaas-litellm-310.XXXXXXXXXX"  # what mktemp -d fills in on the node
OLD_STAGING = "/var/tmp/tappaas-litellm-310"  # the fixed folder of earlier versions
IMAGE = "vzdump-qemu-310-litellm.vma.zst"


def _deploy(*args: str) -> Result:
    return run_cli("deploy", "litellm", *args)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with the CI/CD machine's public key."""
    folder = tmp_path / "home"
    (folder / ".ssh").mkdir(parents=True)
    (folder / ".ssh" / "id_ed25519.pub").write_text(KEY + "\n")
    monkeypatch.setenv("HOME", str(folder))
    return folder


def _plan(flake: Path, vmtag: str, domain: str) -> tuple[list[str], list[str]]:
    key = flake.parent / "home" / ".ssh" / "id_ed25519.pub"
    image = flake / "result-litellm-proxmox" / IMAGE
    steps = [
        "[1/13] Generate the host file",
        f"[2/13] Look for VM 310 on Proxmox node tappaas2 ({NODE})",
        "[3/13] Write the host file",
        "[4/13] Make the site's host visible to the flake (git add --intent-to-add)",
        "[5/13] Build the Proxmox image of litellm (.#litellm-proxmox)",
        f"[6/13] Copy the image and the SSH key to a fresh folder on tappaas2.mgmt.internal "
        f"({STAGING})",
        "[7/13] Restore the image as VM 310 on storage tanka1",
        "[8/13] Set what the image cannot carry: tags, SSH key, EFI disk (VM 310)",
        "[9/13] Start VM 310",
        f"[10/13] Wait until tappaas@litellm.{domain} answers over SSH",
        f"[11/13] Build and switch litellm on tappaas@litellm.{domain}",
        "[12/13] Wait until LiteLLM is ready",
        "[13/13] Verify the deployment",
    ]
    commands = [
        f"{NODE_SSH} 'qm status 310'",
        f"{NODE_SSH} 'qm config 310'",
        "git rev-parse --is-inside-work-tree",
        "git add --intent-to-add --force -- site/hosts/litellm/default.nix",
        "git diff HEAD --name-only -- hosts/litellm/default.nix modules/litellm/image.json",
        "nix --extra-experimental-features 'nix-command flakes' build "
        "--out-link result-litellm-proxmox '.#litellm-proxmox'",
        f"{NODE_SSH} 'mktemp -d -- {STAGING}'",
        f"scp -o BatchMode=yes -- {image} {NODE}:{STAGING}/",
        f"scp -o BatchMode=yes -- {key} {NODE}:{STAGING}/tappaas.pub",
        f"{NODE_SSH} 'qmrestore {STAGING}/{IMAGE} 310 --storage tanka1 --unique 1'",
        f"{NODE_SSH} 'qm set 310 --tags {vmtag} --ciuser tappaas "
        f"--sshkeys {STAGING}/tappaas.pub --ipconfig0 ip=dhcp "
        "--efidisk0 tanka1:1,efitype=4m,pre-enrolled-keys=0'",
        f"{NODE_SSH} 'rm -rf -- {STAGING}'",
        f"{NODE_SSH} 'qm start 310'",
        f"ssh-keygen -R litellm.{domain}",
        f"ssh {VM_SSH_OPTIONS} -- tappaas@litellm.{domain} true   (every 5 s, up to 600 s)",
        "NIX_SSHOPTS='-o StrictHostKeyChecking=accept-new' nixos-rebuild switch "
        f"--flake '.#litellm' --target-host tappaas@litellm.{domain} --sudo",
    ]
    return steps, commands


@pytest.mark.parametrize(
    ("sample", "vmtag", "domain"),
    [
        (NESTED_SAMPLE, "TAPPaaS,App,AI", "srvwork.internal"),
        (FLAT_SAMPLE, "TAPPaaS,Test", "srv.internal"),
    ],
)
def test_dry_run_plan_for_the_sample_module_files(
    flake: Path,
    home: Path,
    recorder: RecordingRunner,
    monkeypatch: pytest.MonkeyPatch,
    sample: Path,
    vmtag: str,
    domain: str,
) -> None:
    shutil.copy(sample, flake / "litellm.json")
    monkeypatch.chdir(flake)
    zones = zones_with_active(flake.parent, "srv")
    result = _deploy("--create", "--dry-run", "--zones", str(zones))
    assert result.exit_code == 0, result.output
    steps, commands = _plan(flake, vmtag, domain)
    assert shown_steps(result.stdout) == steps
    # Every command, in order, with the module file's values; `qm config` only when 310 exists.
    assert shown_commands(result.stdout) == [commands[0], *commands[2:]]
    assert f"      when VM 310 exists: $ {commands[1]}\n" in result.stdout
    assert "      image: " + str(flake / "result-litellm-proxmox" / IMAGE) in result.stdout
    assert f"GET http://litellm.{domain}:4000/health/readiness" in result.stdout
    assert result.stdout.endswith(
        "Dry run complete. Read the master key with: tappaas-litellm key litellm\n"
    )
    # Nothing ran and nothing was written.
    assert recorder.calls == []
    assert list((flake / "hosts").iterdir()) == [] and not (flake / "site").exists()


def test_dry_run_with_a_node_host_and_key_given(
    flake: Path, tmp_path: Path, recorder: RecordingRunner, monkeypatch
) -> None:
    key = tmp_path / "deploy key.pub"
    key.write_text(KEY + "\n")
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.chdir(flake)
    result = _deploy(
        *("--create", "--dry-run", "--node-host", "10.0.0.12", "--ssh-key", str(key)),
        *("--target-host", "tappaas@10.2.20.15", "--boot-timeout", "90"),
    )
    assert result.exit_code == 0, result.output
    commands = shown_commands(result.stdout)
    node = "ssh -o BatchMode=yes -o ConnectTimeout=10 -- root@10.0.0.12"
    assert commands[0] == f"{node} 'qm status 310'"
    assert commands[7] == f"scp -o BatchMode=yes -- '{key}' root@10.0.0.12:{STAGING}/tappaas.pub"
    assert f"--sshkeys {STAGING}/tappaas.pub" in commands[9]
    assert "ssh-keygen -R 10.2.20.15" in commands
    assert "-- tappaas@10.2.20.15 true   (every 5 s, up to 90 s)" in commands[-2]
    assert recorder.calls == []


# -- a Proxmox node and a new VM, played at the SSH boundary ---------------------------------

PROXMOX = r"""
import json, os, random, shutil, string, sys
state_file = {state!r}
log = {log!r}
root = {node_root!r}  # the node's file system: node path P is root + P
args = sys.argv[1:]
cut = args.index("--")
dest, command = args[cut + 1], " ".join(args[cut + 2:])
def read(path):
    try:
        return open(root + path, "rb").read().decode()
    except OSError:
        return None
with open(log, "a") as out:
    out.write(json.dumps({{"program": "ssh", "options": args[:cut], "dest": dest,
                          "command": command}}) + "\n")
state = json.load(open(state_file)) if os.path.exists(state_file) else {{}}
def save():
    json.dump(state, open(state_file, "w"))
if dest != "root@tappaas2.mgmt.internal":  # the new VM
    state["vm_tries"] = state.get("vm_tries", 0) + 1
    save()
    if not state.get("started") or state["vm_tries"] < 2:
        print("ssh: connect to host: Connection refused", file=sys.stderr)
        sys.exit(255)
    sys.exit(0 if command == "true" else 1)
vm = state.get("vm")
if command == "qm status 310":
    if vm is None:
        sys.stderr.write(
            "Configuration file 'nodes/tappaas2/qemu-server/310.conf' does not exist\n")
        sys.exit(2)
    print("status: " + vm["status"])
elif command == "qm config 310":
    print("boot: order=virtio0\ncores: 4\nname: " + vm["name"] + "\nnet0: virtio=BC:24:11:00:00:01")
elif command.startswith("mkdir -p -- /var/tmp/"):
    os.makedirs(root + command.split()[-1], exist_ok=True)
elif command.startswith("mktemp -d -- /var/tmp/"):
    # as mktemp -d: the X's filled in at random, the folder made 0700, never one that exists
    template = command.split()[-1]
    while True:
        made = template.replace("XXXXXXXXXX", "".join(
            random.choice(string.ascii_letters + string.digits) for _ in range(10)))
        try:
            os.mkdir(root + made, 0o700)
            break
        except FileExistsError:
            continue
    print(made)
elif command.startswith("qmrestore "):
    if vm is not None:
        print("unable to restore VM 310 - VM exists", file=sys.stderr); sys.exit(255)
    archive = command.split()[1]
    image = read(archive)
    if image is None:
        print("unable to open " + archive, file=sys.stderr); sys.exit(255)
    state["vm"] = {{"name": "litellm", "status": "stopped", "image": image}}
    print("restore vma archive: ...")
elif command.startswith("qm set 310 "):
    if vm is None:
        print("VM 310 does not exist", file=sys.stderr); sys.exit(2)
    words = command.split()
    key = read(words[words.index("--sshkeys") + 1])
    if key is None or not key.startswith("ssh-"):
        print("qm set: no such key file", file=sys.stderr); sys.exit(2)
    vm["set"] = command
    vm["sshkeys"] = key
    print("update VM 310: " + command[len("qm set 310 "):])
elif command.startswith("rm -rf -- /var/tmp/tappaas-litellm-310"):
    shutil.rmtree(root + command.split()[-1], ignore_errors=True)
elif command == "qm start 310":
    vm["status"] = "running"
    state["started"] = True
else:
    print("stand-in: unexpected command " + command, file=sys.stderr); sys.exit(99)
save()
"""

SCP = r"""
import json, os, sys
log = {log!r}
args = sys.argv[1:]
cut = args.index("--")
sources, dest = args[cut + 1:-1], args[-1]
with open(log, "a") as out:
    out.write(json.dumps({{"program": "scp", "options": args[:cut], "sources": sources,
                          "dest": dest}}) + "\n")
root = {node_root!r}
path = dest.split(":", 1)[1]
for source in sources:
    if not os.path.isfile(source):
        print("scp: " + source + ": No such file or directory", file=sys.stderr); sys.exit(1)
    target = root + (path + os.path.basename(source) if path.endswith("/") else path)
    try:  # as scp does: open the target for writing, following a symlink there
        with open(source, "rb") as data, open(target, "wb") as out:
            out.write(data.read())
    except OSError as exc:
        print("scp: " + path + ": " + exc.strerror, file=sys.stderr); sys.exit(1)
"""

NIX = r"""
import json, os, sys
log = {log!r}
with open(log, "a") as out:
    out.write(json.dumps({{"program": "nix", "args": sys.argv[1:], "cwd": os.getcwd()}}) + "\n")
args = sys.argv[1:]
link = args[args.index("--out-link") + 1]
store = {store!r}
os.makedirs(store, exist_ok=True)
with open(os.path.join(store, "vzdump-qemu-310-litellm.vma.zst"), "wb") as image:
    image.write(b"VMA image")
if os.path.lexists(link):
    os.remove(link)
os.symlink(store, link)
print("building the image...", file=sys.stderr)
"""

RECORD = r"""
import json, os, sys
with open({log!r}, "a") as out:
    out.write(json.dumps({{"program": {name!r}, "args": sys.argv[1:]}}) + "\n")
"""


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"status": "healthy"}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ready() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxmox(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins on PATH; returns the folder with their log (calls.jsonl) and the node's state."""
    world = tmp_path / "world"
    world.mkdir()
    bin_dir = tmp_path / "bin"
    state, log = str(world / "proxmox.json"), str(world / "calls.jsonl")
    node_root = world / "node"
    (node_root / "var" / "tmp").mkdir(parents=True)
    (node_root / "var" / "tmp").chmod(0o1777)
    (node_root / "etc").mkdir()
    stand_in(bin_dir, "ssh", PROXMOX.format(state=state, log=log, node_root=str(node_root)))
    stand_in(bin_dir, "scp", SCP.format(log=log, node_root=str(node_root)))
    stand_in(bin_dir, "nix", NIX.format(log=log, store=str(world / "store-image")))
    for name in ("ssh-keygen", "nixos-rebuild"):
        stand_in(bin_dir, name, RECORD.format(log=log, name=name))
    monkeypatch.setenv("PATH", path_with(bin_dir))
    monkeypatch.setattr(create_module, "SSH_POLL_SECONDS", 0.05)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    return world


def _calls(world: Path) -> list[dict]:
    log = world / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _nodeshown_commands(world: Path) -> list[str]:
    return [c["command"] for c in _calls(world) if c["program"] == "ssh" and c["dest"] == NODE]


@pytest.fixture
def git_flake(flake: Path) -> Path:
    for argv in (["git", "init", "-q"], ["git", "add", "flake.nix", "litellm.json"]):
        subprocess.run(argv, cwd=flake, check=True, timeout=30)
    return flake


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(deploy_module, "run_verify", lambda *a, **k: calls.append((a, k)) or 0)
    return calls


def test_first_install_from_nothing(
    git_flake: Path, proxmox: Path, ready: int, verified: list, monkeypatch
) -> None:
    monkeypatch.chdir(git_flake)
    result = _deploy(
        *("--create", "--target-host", "tappaas@127.0.0.1"),
        *("--port", str(ready), "--wait-timeout", "20", "--boot-timeout", "20"),
    )
    assert result.exit_code == 0, result.output
    calls = _calls(proxmox)
    assert [c["program"] for c in calls] == [
        "ssh",  # qm status: no VM 310
        "nix",  # the image
        "ssh", "scp", "scp",  # staging folder, image, key
        "ssh",  # qmrestore
        "ssh", "ssh",  # qm set, remove the staged files
        "ssh",  # qm start
        "ssh-keygen", "ssh", "ssh",  # forget the old host key; the VM answers at the 2nd try
        "nixos-rebuild",
    ]  # fmt: skip
    staging = _staging(result.stdout)
    assert _nodeshown_commands(proxmox) == [
        "qm status 310",
        f"mktemp -d -- {STAGING}",
        f"qmrestore {staging}/{IMAGE} 310 --storage tanka1 --unique 1",
        f"qm set 310 --tags TAPPaaS,App,AI --ciuser tappaas --sshkeys {staging}/tappaas.pub "
        "--ipconfig0 ip=dhcp --efidisk0 tanka1:1,efitype=4m,pre-enrolled-keys=0",
        f"rm -rf -- {staging}",
        "qm start 310",
    ]
    vm = json.loads((proxmox / "proxmox.json").read_text())["vm"]
    assert (vm["image"], vm["sshkeys"]) == ("VMA image", KEY + "\n")
    assert list((proxmox / "node" / "var" / "tmp").iterdir()) == []  # the folder is removed
    for call in calls:
        if call["program"] == "ssh" and call["dest"] == NODE:
            assert call["options"] == ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    nix = calls[1]
    assert nix["cwd"] == str(git_flake)
    assert nix["args"] == [
        *("--extra-experimental-features", "nix-command flakes", "build"),
        *("--out-link", "result-litellm-proxmox", ".#litellm-proxmox"),
    ]
    image, key = calls[3], calls[4]
    assert image["sources"] == [str(git_flake / "result-litellm-proxmox" / IMAGE)]
    assert image["dest"] == f"{NODE}:{staging}/"
    assert key["sources"] == [str(Path.home() / ".ssh" / "id_ed25519.pub")]
    assert key["dest"] == f"{NODE}:{staging}/tappaas.pub"
    assert calls[9]["args"] == ["-R", "127.0.0.1"]
    assert calls[11]["dest"] == "tappaas@127.0.0.1" and calls[11]["command"] == "true"
    assert calls[12]["args"] == [
        *("switch", "--flake", ".#litellm", "--target-host", "tappaas@127.0.0.1", "--sudo")
    ]
    # The host file was written and git knows it before the image was built.
    host = git_flake / "site" / "hosts" / "litellm" / "default.nix"
    assert "tappaas.vm.proxmox" in host.read_text()
    assert len(verified) == 1
    out = result.stdout
    assert "VM 310 does not exist yet: it will be created" in out
    assert f"image: {git_flake / 'result-litellm-proxmox' / IMAGE}" in out
    assert "tappaas@127.0.0.1 answers after" in out
    assert out.endswith("Deployed litellm. Read the master key with: tappaas-litellm key litellm "
                        "--host tappaas@127.0.0.1\n")  # fmt: skip


def _staging(stdout: str) -> str:
    """The fresh folder the node's mktemp made, as the deploy reports it."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip().startswith("folder: ")]
    assert len(lines) == 1, stdout
    folder = lines[0].removeprefix("folder: ")
    assert folder.startswith(OLD_STAGING + ".") and folder != STAGING
    return folder


def test_a_folder_planted_on_the_node_changes_nothing(
    git_flake: Path, proxmox: Path, ready: int, verified: list, monkeypatch
) -> None:
    # A local user of the node creates the old staging folder first: their image, their key,
    # and a symlink that once made root's copy overwrite a root-owned file.
    node = proxmox / "node"
    victim = node / "etc" / "pve-secret"
    victim.write_text("root-owned\n")
    planted = node / OLD_STAGING.lstrip("/")
    planted.mkdir(mode=0o777)
    (planted / IMAGE).write_text("attacker's image")
    (planted / "tappaas.pub").symlink_to(victim)
    for guess in ("AAAAAAAAAA", "XXXXXXXXXX"):  # a guessed name of the fresh folder as well
        (node / f"{OLD_STAGING.lstrip('/')}.{guess}").symlink_to(planted)
    before = {p.name: (p.is_symlink(), p.read_bytes()) for p in planted.iterdir()}
    monkeypatch.chdir(git_flake)
    result = _deploy(
        *("--create", "--target-host", "tappaas@127.0.0.1"),
        *("--port", str(ready), "--wait-timeout", "20", "--boot-timeout", "20"),
    )
    assert result.exit_code == 0, result.output
    staging = _staging(result.stdout)
    assert not staging.endswith((".AAAAAAAAAA", ".XXXXXXXXXX"))
    vm = json.loads((proxmox / "proxmox.json").read_text())["vm"]
    assert vm["image"] == "VMA image"  # the image built here, not the planted one
    assert vm["sshkeys"] == KEY + "\n"  # the CI/CD machine's key
    assert victim.read_text() == "root-owned\n"
    assert {p.name: (p.is_symlink(), p.read_bytes()) for p in planted.iterdir()} == before
    assert not (node / staging.lstrip("/")).exists()


def _existing(world: Path, name: str, status: str = "running") -> None:
    (world / "proxmox.json").write_text(json.dumps({"vm": {"name": name, "status": status}}))


def test_a_taken_vm_id_stops_everything(
    flake: Path, proxmox: Path, verified: list, monkeypatch
) -> None:
    _existing(proxmox, "nextcloud")
    monkeypatch.chdir(flake)
    result = _deploy("--create")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: litellm.json: .vmid 310 is taken on node tappaas2 ({NODE}) by 'nextcloud', "
        "not 'litellm'; nothing was changed; allowed: a free VM id for litellm"
    ]
    # Only the questions were asked; nothing was written, built, copied or changed.
    assert _nodeshown_commands(proxmox) == ["qm status 310", "qm config 310"]
    assert [c["program"] for c in _calls(proxmox)] == ["ssh", "ssh"]
    assert list((flake / "hosts").iterdir()) == []
    assert json.loads((proxmox / "proxmox.json").read_text()) == {
        "vm": {"name": "nextcloud", "status": "running"}
    }
    assert verified == []


def test_an_existing_vm_of_this_name_is_left_alone(
    git_flake: Path, proxmox: Path, ready: int, verified: list, monkeypatch
) -> None:
    _existing(proxmox, "litellm", "stopped")
    monkeypatch.chdir(git_flake)
    result = _deploy(
        *("--create", "--target-host", "tappaas@127.0.0.1"),
        *("--port", str(ready), "--wait-timeout", "20"),
    )
    assert result.exit_code == 0, result.output
    assert _nodeshown_commands(proxmox) == ["qm status 310", "qm config 310"]
    assert [c["program"] for c in _calls(proxmox)] == ["ssh", "ssh", "nixos-rebuild"]
    assert "VM 310 (litellm) exists (status: stopped): it is left as it is" in result.stdout
    assert "[5-10/13] Create VM 310: skipped, it exists already" in shown_steps(result.stdout)
    assert "[11/13] Build and switch litellm on tappaas@127.0.0.1" in shown_steps(result.stdout)
    assert json.loads((proxmox / "proxmox.json").read_text())["vm"] == {
        "name": "litellm",
        "status": "stopped",
    }
    assert len(verified) == 1


def test_an_unreachable_node_stops_before_anything_is_written(
    flake: Path, tmp_path: Path, home: Path, verified: list, monkeypatch
) -> None:
    stand_in(
        tmp_path / "bin",
        "ssh",
        """
        import sys
        print("ssh: connect to host tappaas2.mgmt.internal port 22: No route to host",
              file=sys.stderr)
        sys.exit(255)
        """,
    )
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.chdir(flake)
    result = _deploy("--create")
    assert result.exit_code == 255
    assert (
        f"error: step 2/13: cannot ask {NODE} about VM 310: ssh exited with status 255"
        in result.stderr
    )
    assert f"hint: check that `ssh {NODE} true` works" in result.stderr
    assert "No route to host" in result.stdout
    assert list((flake / "hosts").iterdir()) == []


def test_a_failed_restore_says_where_the_copied_files_are(
    git_flake: Path, proxmox: Path, verified: list, monkeypatch
) -> None:
    monkeypatch.chdir(git_flake)
    # The node loses the staged archive between copy and restore.
    stand_in(proxmox.parent / "bin", "scp", "import sys\n")
    result = _deploy("--create")
    assert result.exit_code == 255
    assert "error: step 7/13 failed: ssh exited with status 255" in result.stderr
    staging = _staging(result.stdout)
    assert f"remove them with: ssh {NODE} rm -rf -- {staging}" in result.stderr
    assert f"unable to open {staging}/{IMAGE}" in result.stderr
    assert "qm set" not in " ".join(_nodeshown_commands(proxmox))
    assert verified == []


def test_waiting_for_ssh_is_bounded(
    git_flake: Path, proxmox: Path, verified: list, monkeypatch
) -> None:
    monkeypatch.chdir(git_flake)
    # This node never really starts the VM: it never answers.
    never_up = PROXMOX.replace('state["started"] = True', "pass")
    state, log = str(proxmox / "proxmox.json"), str(proxmox / "calls.jsonl")
    node_root = str(proxmox / "node")
    stand_in(
        proxmox.parent / "bin",
        "ssh",
        never_up.format(state=state, log=log, node_root=node_root),
    )
    result = _deploy("--create", "--boot-timeout", "0.3")
    assert result.exit_code == 1
    assert (
        "error: step 10/13: tappaas@litellm.srvwork.internal did not answer over SSH within 0.3 s "
        "(last: ssh: connect to host: Connection refused)" in result.stderr
    )
    assert (
        "hint: watch the VM boot: ssh root@tappaas2.mgmt.internal qm terminal 310" in result.stderr
    )
    assert not any(c["program"] == "nixos-rebuild" for c in _calls(proxmox))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"node": None},
            "error: litellm.json: .node: missing; allowed: the name of the Proxmox node",
        ),
        (
            {"node": "-oProxyCommand=touch"},
            'error: litellm.json: .node: "-oProxyCommand=touch" is not a node name',
        ),
        (
            {"vmtag": "TAPPaaS, App"},
            'error: litellm.json: .vmtag: "TAPPaaS, App" is not a tag list',
        ),
        (
            {"storage": "tank a1;reboot"},
            'error: litellm.json: .config."cluster:vm".storage: "tank a1;reboot" is not a '
            "storage id",
        ),
    ],
)
def test_bad_proxmox_fields_stop_before_any_command(
    flake: Path, home: Path, recorder: RecordingRunner, monkeypatch, change: dict, error: str
) -> None:
    data = json.loads((flake / "litellm.json").read_text())
    for key, value in change.items():
        target = data["config"]["cluster:vm"] if key == "storage" else data
        if value is None:
            target.pop(key)
        else:
            target[key] = value
    (flake / "litellm.json").write_text(json.dumps(data))
    monkeypatch.chdir(flake)
    result = _deploy("--create")
    assert result.exit_code == 2, result.output
    assert any(line.startswith(error) for line in result.stderr.splitlines()), result.stderr
    assert recorder.calls == [] and list((flake / "hosts").iterdir()) == []


def test_a_bad_node_host_is_refused(
    flake: Path, home: Path, recorder: RecordingRunner, monkeypatch
):
    monkeypatch.chdir(flake)
    result = _deploy("--create", "--node-host", "-oProxyCommand=sh")
    assert result.exit_code == 2
    assert "error: --node-host '-oProxyCommand=sh': not [USER@]HOST" in result.stderr
    assert recorder.calls == []


def test_no_public_key(flake: Path, tmp_path: Path, recorder: RecordingRunner, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.chdir(flake)
    result = _deploy("--create", "--dry-run")
    assert result.exit_code == 2
    assert (
        f"error: no SSH public key: looked for {tmp_path}/nobody/.ssh/id_ed25519.pub"
        in result.stderr
    )
    assert recorder.calls == []


def test_a_private_key_is_refused(
    flake: Path, tmp_path: Path, recorder: RecordingRunner, monkeypatch
):
    private = tmp_path / "id_ed25519"
    private.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    monkeypatch.chdir(flake)
    result = _deploy("--create", "--ssh-key", str(private))
    assert result.exit_code == 2
    assert f"error: --ssh-key {private}: not an OpenSSH public key file" in result.stderr
    assert recorder.calls == []


def test_create_options_need_create(flake: Path, recorder: RecordingRunner, monkeypatch) -> None:
    monkeypatch.chdir(flake)
    result = _deploy("--node-host", "tappaas1.mgmt.internal")
    assert result.exit_code == 2
    assert "error: --node-host and --ssh-key go with --create" in result.stderr
    assert recorder.calls == []
