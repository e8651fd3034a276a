"""The other machines of a simulated TAPPaaS cluster, for dev/tappaas-sim.

TAPPaaS's scripts run for real on the simulated CI/CD machine; what they send to another
machine arrives here, is appended to $TAPPAAS_SIM_LOG as ``<machine>: <command>`` and is
answered from a little state in $TAPPAAS_SIM_DIR/state:

- the Proxmox nodes (``ssh root@tappaasN.mgmt.internal``): the command runs with bash, with
  ``qm``, ``pvesh``, ``pvesm``, ``ha-manager`` and ``proxmox-backup-manager`` answered from
  ``cluster.json`` (VMs, their config, status and snapshots);
- the firewall and identity's API clients run on the CI/CD machine (``dns-manager``,
  ``caddy-manager``, ``rules-manager``, ``zone-manager``, ``authentik-manager``): recorded, and
  answered "done";
- the VMs (``ssh tappaas@<vm>.<zone>.internal``): a VM switched to this flake answers as the
  gateway does, through the verify tests' FakeVM, and runs the real ``litellm-service-keys``
  against a stand-in of LiteLLM's key API; a snapshot copies a VM's state, a rollback restores
  it;
- ``nixos-rebuild switch --target-host``: the deploy's switch. It parses the host's Nix
  files (nix-instantiate --parse) as a build would fail on them, then switches the VM;
- a small HTTP server answers ``http://<vm>:4000/health/readiness`` for the switched VMs, and
  the VMs' names resolve to 127.0.0.1 in the simulation's private /etc/hosts.

Run as ``machines.py NAME ARGS...`` through the wrappers dev/tappaas-sim writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.server
import io
import json
import os
import pickle
import re
import shlex
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "tests" / "verify"), str(ROOT / "generator" / "tests")]

from fake_litellm_keys import FakeKeyApi, FakeKeyServer  # noqa: E402
from fake_vm import MASTER, FakeVM  # noqa: E402

SIM = Path(os.environ.get("TAPPAAS_SIM_DIR", ROOT / ".tappaas-sim"))  # as dev/tappaas-sim
STATE = SIM / "state"
CONFIG = Path("/home/tappaas/config")
NODES = ("tappaas1", "tappaas2")
SECRETS_ENV = "/etc/secrets/litellm.env"
SERVICE_KEYS_STATE = "/etc/litellm/service-keys.json"


# ---------------------------------------------------------------------------------------
# the log and the state
# ---------------------------------------------------------------------------------------
def record(machine: str, command: str) -> None:
    log = Path(os.environ.get("TAPPAAS_SIM_LOG", SIM / "commands.log"))
    unwrapped = _unwrap(command)
    if unwrapped is not None:  # verify's transport: the script, as the VM runs it
        command = ("sudo " if unwrapped[1] else "") + unwrapped[0]
    command = " ".join(command.split())
    with log.open("a", encoding="utf-8") as out:
        out.write(f"{machine}: {command}\n")


@contextlib.contextmanager
def locked() -> Iterator[None]:
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass
class VM:
    vmid: int
    name: str
    node: str
    zone: str
    config: dict[str, str]
    status: str = "stopped"
    system: str = "template"  # template, nixos-config (update-os.sh), flake:<host>
    files: dict[str, str] = field(default_factory=dict)
    gateway: FakeVM | None = None
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # LiteLLM's key table
    snapshots: dict[str, bytes] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{self.name}.{self.zone}.internal".lower()

    @property
    def ip(self) -> str:
        return f"10.99.{self.vmid // 250 % 250}.{self.vmid % 250}"


def _cluster_file() -> Path:
    return STATE / "cluster.pickle"


def load_vms() -> dict[int, VM]:
    path = _cluster_file()
    return pickle.loads(path.read_bytes()) if path.is_file() else {}


def save_vms(vms: dict[int, VM]) -> None:
    tmp = _cluster_file().with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(vms))
    tmp.replace(_cluster_file())
    write_hosts(vms)


def write_hosts(vms: dict[int, VM]) -> None:
    """DNS: every node, the firewall and every VM resolve to this machine (in place: the
    file is bind-mounted on /etc/hosts)."""
    names = [f"{n}.mgmt.internal" for n in NODES] + ["firewall.mgmt.internal"]
    names += [vm.host for vm in vms.values()]
    text = "127.0.0.1 localhost tappaas-cicd tappaas-cicd.mgmt.internal\n"
    text += "".join(f"127.0.0.1 {name}\n" for name in names)
    with (SIM / "hosts").open("r+", encoding="utf-8") as out:
        out.truncate(0)
        out.write(text)


def vm_by_host(vms: dict[int, VM], host: str) -> VM | None:
    host = host.lower().rstrip(".")
    return next(
        (vm for vm in vms.values() if host in (vm.host, vm.name.lower(), vm.ip)),
        None,
    )


# ---------------------------------------------------------------------------------------
# the Proxmox nodes
# ---------------------------------------------------------------------------------------
def _vlan(zone: str) -> str:
    try:
        zones = json.loads((CONFIG / "zones.json").read_text())
        return str(zones.get(zone, {}).get("vlantag", 0))
    except (OSError, ValueError):
        return "0"


def create_vm(node: str, module_file: Path) -> int:
    """Create-TAPPaaS-VM.sh: clone the template into the module's VM and start it."""
    raw = json.loads(module_file.read_text())
    flat = dict(raw)
    for block in (raw.get("config") or {}).values():
        flat.update(block)
    vmid = int(flat["vmid"])
    zone = str(flat.get("zone0", "mgmt"))
    config = {
        "name": str(flat.get("vmname", module_file.stem)),
        "cores": str(flat.get("cores", 2)),
        "memory": str(flat.get("memory", 2048)),
        "tags": str(flat.get("vmtag", "")).replace(",", ";"),
        "net0": f"virtio=BC:24:11:00:{vmid // 256 % 256:02X}:{vmid % 256:02X},"
        f"bridge={flat.get('bridge0', 'lan')},tag={_vlan(zone)}",
        "scsi0": f"{flat.get('storage', 'tanka1')}:vm-{vmid}-disk-0,"
        f"size={flat.get('diskSize', '8G')}",
        "agent": "1",
        "ostype": "l26",
    }
    with locked():
        vms = load_vms()
        if vmid in vms:
            print(f"VM {vmid} already exists", file=sys.stderr)
            return 1
        vms[vmid] = VM(vmid, config["name"], node, zone, config, status="running")
        save_vms(vms)
    print(f"VM {vmid} ({config['name']}) created on {node}")
    return 0


def _snapshot_state(vm: VM) -> bytes:
    keep = vm.snapshots
    vm.snapshots = {}
    try:
        return pickle.dumps(vm)
    finally:
        vm.snapshots = keep


def qm(node: str, args: list[str]) -> int:
    if not args:
        return 2
    verb, rest = args[0], args[1:]
    with locked():
        vms = load_vms()
        if verb == "list":
            for vm in vms.values():
                print(f"{vm.vmid} {vm.name} {vm.status}")
            return 0
        if verb == "guest":  # qm guest cmd|exec VMID ...
            verb, rest = f"guest {rest[0] if rest else ''}", rest[1:]
        vmid = int(rest[0]) if rest and rest[0].isdigit() else -1
        vm = vms.get(vmid)
        if vm is None:
            print(
                f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist",
                file=sys.stderr,
            )
            return 2
        if verb == "config":
            print("".join(f"{k}: {v}\n" for k, v in vm.config.items()), end="")
        elif verb == "status":
            print(f"status: {vm.status}")
        elif verb in ("start", "resume"):
            vm.status = "running"
        elif verb in ("stop", "shutdown"):
            vm.status = "stopped"
        elif verb == "reboot":
            vm.status = "running"
        elif verb == "destroy":
            del vms[vmid]
        elif verb == "set":
            pairs = iter(rest[1:])
            for option in pairs:
                if option == "--delete":
                    for key in next(pairs, "").split(","):
                        vm.config.pop(key, None)
                elif option.startswith("--"):
                    vm.config[option[2:]] = next(pairs, "")
        elif verb == "snapshot":
            vm.snapshots[rest[1]] = _snapshot_state(vm)
        elif verb == "listsnapshot":
            for name in vm.snapshots:
                print(f"`-> {name}  2026-12-03 05:00:00  pre-update snapshot")
            print(" `-> current                                  You are here!")
        elif verb == "rollback":
            saved: VM = pickle.loads(vm.snapshots[rest[1]])
            saved.snapshots = vm.snapshots
            saved.status = "stopped"
            vms[vmid] = saved
        elif verb == "delsnapshot":
            vm.snapshots.pop(rest[1], None)
        elif verb.startswith("guest"):
            if vm.status != "running":
                print("QEMU guest agent is not running", file=sys.stderr)
                return 255
            if rest[1:2] == ["network-get-interfaces"]:
                print(
                    json.dumps(
                        [
                            {
                                "name": "ens18",
                                "ip-addresses": [
                                    {"ip-address-type": "ipv4", "ip-address": vm.ip, "prefix": 24}
                                ],
                            }
                        ]
                    )
                )
        elif verb in ("migrate", "resize", "template", "agent"):
            pass
        else:
            print(f"sim: qm {verb} not simulated", file=sys.stderr)
            return 2
        save_vms(vms)
    return 0


def pvesh(args: list[str]) -> int:
    vms = load_vms()
    path = args[1] if len(args) > 1 else ""
    if args[:1] == ["get"] and path == "/cluster/resources":
        kind = args[args.index("--type") + 1] if "--type" in args else ""
        rows: list[dict[str, Any]] = []
        if kind in ("", "node"):
            rows += [
                {"type": "node", "node": n, "status": "online", "id": f"node/{n}"} for n in NODES
            ]
        if kind in ("", "vm"):
            rows += [
                {
                    "type": "qemu",
                    "vmid": vm.vmid,
                    "name": vm.name,
                    "node": vm.node,
                    "status": vm.status,
                    "id": f"qemu/{vm.vmid}",
                }
                for vm in vms.values()
            ]
        print(json.dumps(rows))
        return 0
    if args[:1] == ["get"] and path.startswith("/cluster/backup"):
        print("[]" if path == "/cluster/backup" else "{}")
        return 0
    if args[:1] == ["get"] and path.startswith("/nodes/"):
        print("[]")
        return 0
    return 0


def run_on_node(node: str, command: str, stdin: bytes | None) -> int:
    """A node runs the command with bash; Proxmox's own tools are answered from the state."""
    folder = STATE / "nodes" / node
    (folder / "root" / "tappaas").mkdir(parents=True, exist_ok=True)
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("qm", "pvesh", "pvesm", "pct", "ha-manager", "proxmox-backup-manager"):
        wrapper = bin_dir / tool
        if not wrapper.exists():
            wrapper.write_text(
                f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(__file__)} "
                f'node-{tool} {shlex.quote(node)} "$@"\n'
            )
            wrapper.chmod(0o755)
    root = str(folder / "root")
    command = command.replace("/root/", root + "/")
    if re.search(r"/tappaas/Create-TAPPaaS-VM\.sh (\S+)", command):
        module = re.search(r"/tappaas/Create-TAPPaaS-VM\.sh (\S+)", command)
        assert module
        return create_vm(node, Path(root) / "tappaas" / f"{module.group(1)}.json")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": root,
        "TAPPAAS_SIM_DIR": str(SIM),
        "TAPPAAS_SIM_LOG": os.environ.get("TAPPAAS_SIM_LOG", ""),
    }
    return subprocess.run(["bash", "-c", command], input=stdin, env=env, check=False).returncode


# ---------------------------------------------------------------------------------------
# the VMs
# ---------------------------------------------------------------------------------------
def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []


def _unwrap(command: str) -> tuple[str, bool] | None:
    """verify's transport: [sudo -n env "PATH=$PATH"] timeout -k 5 N bash -c SCRIPT."""
    root = False
    prefix = 'sudo -n env "PATH=$PATH" '
    if command.startswith(prefix):
        root, command = True, command[len(prefix) :]
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:3] != ["timeout", "-k", "5"] or words[4:6] != ["bash", "-c"] or len(words) != 7:
        return None
    return words[6].removeprefix("set -o pipefail\n"), root


def _service_keys(vm: VM, words: list[str]) -> tuple[int, str, str]:
    """The VM's litellm-service-keys: the real command, on the VM's files and key table."""
    folder = STATE / "vms" / str(vm.vmid)
    etc = folder / "secrets"
    etc.mkdir(parents=True, exist_ok=True)
    for name in list(etc.iterdir()):
        name.unlink()
    for path, text in vm.files.items():
        if path.startswith("/etc/secrets/litellm-svc-"):
            (etc / Path(path).name).write_text(text)
    secrets = folder / "litellm.env"
    secrets.write_text(f"LITELLM_MASTER_KEY={MASTER}\n")
    state = folder / "service-keys.json"
    state.write_text(vm.files.get(SERVICE_KEYS_STATE, '{"consumers": {}}'))
    # The VM's PostgreSQL, as `litellm-service-keys test` asks it: each stored model,
    # and whether it has its own key.
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    stored = "".join(
        f"{m['model_name']}|{'t' if m['litellm_params'].get('api_key') else 'f'}\n"
        for m in (vm.gateway.models if vm.gateway else [])
        if m.get("model_info", {}).get("db_model")
    )
    (folder / "stored-models").write_text(stored)
    (bin_dir / "runuser").write_text(f"#!/bin/sh\nexec cat {folder / 'stored-models'}\n")
    (bin_dir / "runuser").chmod(0o755)
    api = FakeKeyApi(master_key=MASTER, keys=vm.keys)
    with FakeKeyServer(api) as server:
        result = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "tappaas-litellm"),
                "service-keys",
                "--state",
                str(state),
                "--secrets",
                str(secrets),
                "--url",
                server.url,
                "--key-dir",
                str(etc),
                "--attempts",
                "1",
                *words,
            ],
            capture_output=True,
            text=True,
            check=False,
            env={
                **os.environ,
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "NO_PROXY": "*",
                "no_proxy": "*",
            },
        )
    vm.keys = api.keys
    for path in [p for p in vm.files if p.startswith("/etc/secrets/litellm-svc-")]:
        del vm.files[path]
    for file in etc.iterdir():
        if file.name.startswith("litellm-svc-"):
            vm.files[f"/etc/secrets/{file.name}"] = file.read_text()
    shown = [text.replace(str(etc), "/etc/secrets") for text in (result.stdout, result.stderr)]
    return result.returncode, shown[0], shown[1]


# A VM that TAPPaaS configured with its own <module>.nix (update-os.sh) answers as a healthy
# application VM: what TAPPaaS's openwebui and litellm modules ask of theirs.
APP_VM = [
    (r"NO_MIGRATION_NEEDED", 0, "NO_MIGRATION_NEEDED\n"),
    (r"^sudo podman ps --filter", 0, "Up 5 minutes\n"),
    (r"^sudo podman image prune", 0, ""),
    (r"^curl -s -o /dev/null -w '%\{http_code\}'", 0, "200"),
    (r"^pg_isready ", 0, "accepting connections\n"),
    (r"^redis-cli .*ping$", 0, "PONG\n"),
    (r"^sudo systemctl (restart|is-active|start) ", 0, "active\n"),
]

WRITE = re.compile(r"^sudo sh -c .* litellm-svckey (\S+)$", re.S)


def run_on_vm(vm: VM, command: str, stdin: str) -> tuple[int, str, str]:
    words = shlex.split(command) if command.strip() else []
    simple = {
        "exit 0",
        "true",
        "sudo -n true",
        "sudo true",
        "test -f /etc/NIXOS",
        "cloud-init status --wait",
    }
    if command in simple:
        return 0, "status: done\n" if "cloud-init" in command else "", ""
    if command.startswith("test -f /etc/debian_version"):
        return 1, "", ""
    if vm.gateway is not None:
        unwrapped = _unwrap(command)
        if unwrapped is not None:
            script, root = unwrapped
            # A fault for the tests: these units have failed (for as long as the file exists).
            units = dict(vm.gateway.units)
            vm.gateway.units.update({u: "failed" for u in _lines(STATE / "broken-units")})
            result = vm.gateway.run(script, stdin=stdin, root=root)
            vm.gateway.units = units
            return result.rc, result.stdout, result.stderr
        if words[:2] == ["sudo", "litellm-service-keys"]:
            return _service_keys(vm, words[2:])
    if words[:2] == ["sudo", "cat"] and len(words) == 3:
        if words[2] in vm.files:
            return 0, vm.files[words[2]], ""
        return 1, "", f"cat: {words[2]}: No such file or directory\n"
    # update-os.sh (templates:nixos): the .nix files into /etc/nixos, then a rebuild there.
    install = re.match(r"^sudo install -m 0644 (/tmp/\S+) (/etc/nixos/\S+) && rm -f \S+$", command)
    if install and install.group(1) in vm.files:
        vm.files[install.group(2)] = vm.files.pop(install.group(1))
        return 0, "", ""
    if "test -f /etc/nixos/hardware-configuration.nix" in command:
        vm.files.setdefault("/etc/nixos/hardware-configuration.nix", "{ }\n")
        return 0, "", ""
    rebuild = re.match(r"^sudo nixos-rebuild switch .*-I nixos-config=(\S+)$", command)
    if rebuild:
        if rebuild.group(1) not in vm.files:
            return 1, "", f"error: file '{rebuild.group(1)}' was not found\n"
        vm.system = f"nixos-config:{rebuild.group(1)}"
        return 0, "", ""
    if vm.system.startswith("nixos-config:"):
        text = command + "\n" + stdin
        for pattern, rc, out in APP_VM:
            if re.search(pattern, text, re.M):
                return rc, out, ""
    if words[:3] == ["sudo", "test", "-f"]:
        return (0 if words[3] in vm.files else 1), "", ""
    if words[:3] == ["sudo", "sha256sum", "--"] and words[3] in vm.files:
        digest = hashlib.sha256(vm.files[words[3]].encode()).hexdigest()
        return 0, f"{digest}  {words[3]}\n", ""
    match = WRITE.match(command)
    if match:
        vm.files[match.group(1)] = stdin
        return 0, "", ""
    if words[:4] == ["sudo", "rm", "-f", "--"]:
        for path in words[4:]:
            vm.files.pop(path, None)
        return 0, "", ""
    return 127, "", f"sim vm {vm.host}: no rule for {command!r}\n"


@contextlib.contextmanager
def vm_at(host: str) -> Iterator[VM | None]:
    """The running VM at `host` (saved afterwards), else None after ssh's own message."""
    with locked():
        vms = load_vms()
        vm = vm_by_host(vms, host)
        if vm is None or vm.status != "running":
            print(f"ssh: connect to host {host} port 22: No route to host", file=sys.stderr)
            yield None
            return
        yield vm
        save_vms(vms)


def tar(vm: VM, command: str, stdin: bytes) -> tuple[int, bytes]:
    """`sudo tar -C /etc -czf - secrets` and `sudo tar -C /etc -xzf -` on the VM's files."""
    if command == "sudo tar -C /etc -czf - secrets":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path, text in vm.files.items():
                if path.startswith("/etc/secrets/"):
                    data = text.encode()
                    info = tarfile.TarInfo(path.removeprefix("/etc/"))
                    info.size, info.mode = len(data), 0o600
                    archive.addfile(info, io.BytesIO(data))
        return 0, buffer.getvalue()
    if command == "sudo tar -C /etc -xzf -":
        with tarfile.open(fileobj=io.BytesIO(stdin), mode="r:gz") as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    vm.files[f"/etc/{member.name}"] = extracted.read().decode()
        return 0, b""
    return 2, b""


def ssh(args: list[str]) -> int:
    with_value = set("BbcDEeFIiJLlmOoPpQRSWw")
    user = ""
    words = iter(args)
    rest: list[str] = []
    for word in words:
        if word == "--":
            rest = list(words)
            break
        if word.startswith("-") and len(word) > 1:
            letter = word[1]
            if letter in with_value and len(word) == 2:
                value = next(words, "")
                if letter == "l":
                    user = value
            continue
        rest = [word, *words]
        break
    if not rest:
        print("ssh: no destination", file=sys.stderr)
        return 255
    destination, command = rest[0], " ".join(rest[1:])
    user, _, host = destination.rpartition("@") if "@" in destination else (user, "", destination)
    host = host.lower()
    stdin = (
        b"" if "-n" in args or sys.stdin is None or sys.stdin.closed else sys.stdin.buffer.read()
    )
    shown = command
    if command in ("bash -s", "bash -s --") and stdin:
        first = next((ln for ln in stdin.decode().splitlines() if ln.strip()), "")
        shown = f"{command} <<< {first.strip()[:100]}"
    record(host, shown)
    node = host.split(".")[0]
    if host.endswith(".mgmt.internal") and node in NODES:
        return run_on_node(node, command, stdin)
    if host == "firewall.mgmt.internal":
        return 0
    with vm_at(host) as vm:
        if vm is None:
            return 255
        if command.startswith("sudo tar -C /etc "):
            rc, data = tar(vm, command, stdin)
            sys.stdout.buffer.write(data)
            return rc
        rc, out, err = run_on_vm(vm, command, stdin.decode("utf-8", "replace"))
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


def scp(args: list[str]) -> int:
    paths = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-o"]
    source, target = paths[-2], paths[-1]
    host, _, remote = target.partition(":")
    host = host.rpartition("@")[2].lower()
    record(host, f"scp {Path(source).name} {remote}")
    node = host.split(".")[0]
    if node in NODES:
        dest = STATE / "nodes" / node / "root" / remote.removeprefix("/root/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(source).read_bytes())
        return 0
    with vm_at(host) as vm:
        if vm is None:
            return 255
        vm.files[remote] = Path(source).read_text("utf-8", "replace")
    return 0


# ---------------------------------------------------------------------------------------
# the deploy's switch
# ---------------------------------------------------------------------------------------
def nixos_rebuild(args: list[str]) -> int:
    record("tappaas-cicd", "nixos-rebuild " + shlex.join(args))
    if "--target-host" not in args or "--flake" not in args:
        print("sim: only nixos-rebuild --flake .#HOST --target-host is simulated", file=sys.stderr)
        return 1
    flake, _, host_name = args[args.index("--flake") + 1].partition("#")
    target = args[args.index("--target-host") + 1].rpartition("@")[2]
    folder = Path(flake if flake not in ("", ".") else os.getcwd())
    # A flake sees only files git knows (tracked, or added with --intent-to-add); as
    # flake.nix does, a site's host (site/hosts/NAME) replaces upstream's sample of that
    # name (hosts/NAME). A Nix file that does not parse fails the build.
    known = subprocess.run(
        ["git", "-C", str(folder), "ls-files", "--", "site/hosts", "hosts"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    found = [r for r in ("site/hosts", "hosts") if f"{r}/{host_name}/default.nix" in known]
    if not found:
        print(
            f"error: flake has no nixosConfigurations.{host_name} (git knows neither "
            f"site/hosts/{host_name}/default.nix nor hosts/{host_name}/default.nix)",
            file=sys.stderr,
        )
        return 1
    host_dir = folder / found[0] / host_name
    for path in sorted(host_dir.glob("*.nix")):
        parsed = subprocess.run(
            ["nix-instantiate", "--parse", str(path)], capture_output=True, text=True, check=False
        )
        if parsed.returncode != 0:
            print(parsed.stderr, file=sys.stderr, end="")
            return 1
    with locked():
        vms = load_vms()
        vm = vm_by_host(vms, target)
        if vm is None or vm.status != "running":
            print(f"ssh: connect to host {target} port 22: No route to host", file=sys.stderr)
            return 1
        vm.system = f"flake:{host_name}"
        if re.search(r"datastore = \{\s*enable = true;", (host_dir / "default.nix").read_text()):
            # PostgreSQL and Redis; the secrets are made at first boot, no LiteLLM.
            for name in ("litellm.env", "litellm-db.pass", "litellm-redis.pass"):
                vm.files.setdefault(f"/etc/secrets/{name}", f"{name} of {host_name}\n")
        elif vm.gateway is None:
            vm.gateway = FakeVM()
            for model in vm.gateway.models:  # stored with its own (encrypted) provider key
                model["litellm_params"]["api_key"] = "encrypted provider key"
        # A fault for the tests: the units named in this file fail after the switch.
        for unit in _lines(STATE / "break-on-switch"):
            vm.gateway.units[unit] = "failed"
        save_vms(vms)
    print(f"switched {target} to .#{host_name}")
    return 0


# ---------------------------------------------------------------------------------------
# the firewall's, DNS's and identity's API clients, and ping
# ---------------------------------------------------------------------------------------
def api_client(name: str, args: list[str]) -> int:
    """The firewall's API clients: what was added is listed until it is deleted."""
    record("firewall", f"{name} {shlex.join(args)}")
    words = [a for a in args if not a.startswith("--no-ssl")]
    if "--help" in words or "-h" in words:
        print(f"usage: {name} [options] COMMAND ...")
        return 0
    with locked():
        path = STATE / f"{name}.json"
        entries: list[str] = json.loads(path.read_text()) if path.is_file() else []
        verb = words[0] if words else ""
        if verb.startswith("add"):
            entries.append(shlex.join(words))
        elif verb.startswith("delete") and len(words) > 1:
            entries = [e for e in entries if words[1] not in shlex.split(e)]
        elif verb.startswith("list"):
            print("\n".join(entries))
        path.write_text(json.dumps(entries))
    return 0


def ping(args: list[str]) -> int:
    host = args[-1].lower()
    vm = vm_by_host(load_vms(), host)
    reachable = vm is not None and vm.status == "running"
    reachable = reachable or host.split(".")[0] in (*NODES, "firewall")
    return 0 if reachable else 1


class Readiness(http.server.BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        vm = vm_by_host(load_vms(), host)
        ok = vm is not None and vm.status == "running" and vm.gateway is not None
        body = json.dumps({"status": "healthy" if ok else "not ready"}).encode()
        self.send_response(200 if ok and self.path == "/health/readiness" else 503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


def serve() -> int:
    http.server.ThreadingHTTPServer(("127.0.0.1", 4000), Readiness).serve_forever()
    return 0


def write_configuration(path: Path) -> int:
    configuration = {
        "tappaas": {
            "version": "0.5",
            "domain": "example.org",
            "email": "admin@example.org",
            "nodeCount": len(NODES),
            "variants": {
                "": {"domain": "example.org", "dnsMode": "wildcard", "description": "Default"},
                "test": {
                    "domain": "test.example.org",
                    "dnsMode": "wildcard",
                    "description": "Tests",
                },
            },
        },
        "tappaas-nodes": [
            {"hostname": node, "ip": f"10.0.0.{i + 10}"} for i, node in enumerate(NODES)
        ],
    }
    path.write_text(json.dumps(configuration, indent=2) + "\n")
    return 0


def init_cluster() -> int:
    """A fresh cluster holds the NixOS template (VMID 8080) that modules are cloned from."""
    with locked():
        vms = load_vms()
        if 8080 not in vms:
            config = {"name": "tappaas-nixos", "template": "1", "cores": "2", "memory": "2048"}
            vms[8080] = VM(8080, "tappaas-nixos", NODES[0], "mgmt", config)
        save_vms(vms)
    return 0


def main(argv: list[str]) -> int:
    name, args = argv[0], argv[1:]
    if name == "ssh":
        return ssh(args)
    if name == "scp":
        return scp(args)
    if name == "ssh-keyscan":
        return 0
    if name == "nixos-rebuild":
        return nixos_rebuild(args)
    if name == "ping":
        return ping(args)
    if name.endswith("-manager"):
        return api_client(name, args)
    if name == "node-qm":
        return qm(args[0], args[1:])
    if name == "node-pvesh":
        return pvesh(args[1:])
    if name == "node-pvesm":
        print(
            "Name Type Status Total Used Available %\n"
            "tappaas_backup pbs active 1000000000 1000000 999000000 0.10%"
        )
        return 0
    if name.startswith("node-"):
        return 0
    if name == "serve":
        return serve()
    if name == "write-configuration":
        return write_configuration(Path(args[0]))
    if name == "init-cluster":
        return init_cluster()
    print(f"machines.py: unknown stand-in {name}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
