"""`deploy --create`: a new VM from the host's Proxmox image, when its VM id is free.

On the Proxmox node named in the module file (`node`, reached as root@<node>.mgmt.internal):
look up the VM id, and only when no VM has it, build the image
(`nix build .#<name>-proxmox`), copy it and the SSH key to the node, `qmrestore` it with the
file's `vmid` and `storage`, `qm set` what the image cannot carry (tags, the key of `tappaas`
through cloud-init, the EFI variables disk), start the VM and wait for SSH. A VM with the same
id and name is left as it is (the deploy goes on with it); a VM with the same id and another
name stops everything before anything is written or run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tappaas_litellm.admin.generate import Generated
from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.process import Command
from tappaas_litellm.common.ssh_target import DEFAULT_USER, SshTarget, parse_target
from tappaas_litellm.hostfile.module_fields import DNS_LABEL
from tappaas_litellm.hostfile.module_file import flatten

__all__ = [
    "CREATE_STEPS",
    "CreateOptions",
    "Creator",
    "ProxmoxPlace",
    "check_ssh_key",
    "default_ssh_key",
    "node_target",
    "proxmox_place",
]

NODE_DOMAIN = "mgmt.internal"  # TAPPaaS reaches its Proxmox nodes as root@<node>.mgmt.internal
NODE_USER = "root"  # qm and qmrestore need root on the node
# On the node: a fresh folder `mktemp -d` makes (root's, 0700) for the image and the key,
# removed after the settings. Never a fixed name: a local user of the node could create it
# first and swap the image or the key, or plant a symlink root's copy would write through.
STAGING_TEMPLATE = "/var/tmp/tappaas-litellm-{vmid}.XXXXXXXXXX"
SSH_POLL_SECONDS = 5.0
# ssh to the node: never ask for a password, give up on a dead node.
NODE_SSH = ("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10")
# ssh to the new VM: its host key is new (accepted once), each try is bounded.
VM_SSH = (
    "ssh",
    *("-o", "BatchMode=yes", "-o", "ConnectTimeout=5"),
    *("-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2"),
    *("-o", "StrictHostKeyChecking=accept-new"),
)
# Steps --create adds to a deploy: look up the VM id, write the host file (split from
# generating it, so a refusal writes nothing), build, copy, restore, settings, start, SSH.
CREATE_STEPS = 8

# module-fields.json: storage ids and tags.
STORAGE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z]")
VMTAG = re.compile(r"[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*")
DEFAULT_STORAGE = "tanka1"
DEFAULT_VMTAG = "TAPPaaS"
KEY_TYPES = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")


class Steps(Protocol):
    """What the deploy gives this module: numbered steps and a way to run commands."""

    dry_run: bool

    def header(self, title: str) -> None: ...
    def skip(self, steps: int, title: str) -> None: ...
    def say(self, text: str) -> None: ...
    def show(self, command: Command) -> None: ...
    def run(self, command: Command, *, capture: bool, hint: str) -> str: ...
    def attempt(self, command: Command) -> tuple[int, str, str]: ...
    def fail(self, message: str, *, hint: str, exit_code: int = 1) -> StepError: ...


@dataclass(frozen=True)
class CreateOptions:
    node_host: str | None  # --node-host [USER@]HOST, else root@<node>.mgmt.internal
    ssh_key: Path | None  # --ssh-key FILE, else ~/.ssh/id_ed25519.pub or ~/.ssh/id_rsa.pub
    boot_timeout: float  # seconds to wait for SSH on the new VM


@dataclass(frozen=True)
class ProxmoxPlace:
    """Where the VM goes, from the module file."""

    node: str | None
    storage: str
    tags: str


def _origins(source: Path) -> dict[str, str]:
    """Where each field of the (already validated) module file is, as a jq path."""
    raw = json.loads(source.read_text("utf-8-sig"))
    return flatten(raw)[1] if isinstance(raw, dict) else {}


def proxmox_place(generated: Generated) -> ProxmoxPlace:
    """`node`, `storage` and `vmtag` of the module file, checked; exit 2 on a bad one."""
    fields = generated.module.fields
    display = str(generated.choice.path)
    origins = _origins(generated.module.source)
    problems: list[str] = []

    def where(key: str) -> str:
        return f"{display}: {origins.get(key, '.' + key)}"

    node = fields.get("node")
    if node is not None and not (isinstance(node, str) and DNS_LABEL.fullmatch(node)):
        problems.append(
            f"{where('node')}: {json.dumps(node)} is not a node name; "
            'allowed: the Proxmox node\'s name, a DNS label (e.g. "tappaas1")'
        )
    storage = fields.get("storage", DEFAULT_STORAGE)
    if not (isinstance(storage, str) and STORAGE.fullmatch(storage)):
        problems.append(
            f"{where('storage')}: {json.dumps(storage)} is not a storage id; "
            "allowed: a Proxmox storage id, letters, digits, '-', '_', '.' (e.g. \"tanka1\")"
        )
    tags = fields.get("vmtag", DEFAULT_VMTAG)
    if not (isinstance(tags, str) and VMTAG.fullmatch(tags)):
        problems.append(
            f"{where('vmtag')}: {json.dumps(tags)} is not a tag list; "
            'allowed: letters and digits, comma-separated, no spaces (e.g. "TAPPaaS,App")'
        )
    if problems:
        raise InputError(problems)
    return ProxmoxPlace(node=node, storage=storage, tags=tags)


def node_target(place: ProxmoxPlace, override: str | None, display: str) -> SshTarget:
    """root@<node>.mgmt.internal, or --node-host (a bare HOST means root@HOST)."""
    if override is not None:
        return parse_target(override, "--node-host", default_user=NODE_USER)
    if place.node is None:
        raise InputError(
            f"{display}: .node: missing; allowed: the name of the Proxmox node for the new VM "
            '(e.g. "tappaas1"), or --node-host HOST'
        )
    return SshTarget(NODE_USER, f"{place.node}.{NODE_DOMAIN}")


def default_ssh_key(home: Path) -> Path | None:
    """The public key TAPPaaS gives new VMs: ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub."""
    for name in ("id_ed25519.pub", "id_rsa.pub"):
        candidate = home / ".ssh" / name
        if candidate.is_file():
            return candidate
    return None


def check_ssh_key(path: Path | None, home: Path) -> Path:
    """The public key file for `tappaas`; exit 2 when it is missing or not a public key."""
    if path is None:
        found = default_ssh_key(home)
        if found is None:
            raise InputError(
                f"no SSH public key: looked for {home}/.ssh/id_ed25519.pub and "
                f"{home}/.ssh/id_rsa.pub; allowed: one of those, or --ssh-key FILE"
            )
        path = found
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"--ssh-key {path}: cannot read it: {reason}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if "PRIVATE KEY" in text or not lines or not all(line.startswith(KEY_TYPES) for line in lines):
        raise InputError(
            f"--ssh-key {path}: not an OpenSSH public key file; allowed: a .pub file, one key "
            'per line (e.g. "ssh-ed25519 AAAA... tappaas@tappaas-cicd")'
        )
    return path


def _vm_name(config_text: str) -> str | None:
    for line in config_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "name":
            return value.strip()
    return None


class Creator:
    """The --create steps of one deploy."""

    def __init__(
        self,
        steps: Steps,
        generated: Generated,
        options: CreateOptions,
        *,
        flake_dir: Path,
        vm_target: SshTarget,
        home: Path,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.steps = steps
        self.spec = generated.module.spec
        self.display = str(generated.choice.path)
        self.place = proxmox_place(generated)
        self.node = node_target(self.place, options.node_host, self.display)
        self.key = check_ssh_key(options.ssh_key, home)
        self.options = options
        self.flake_dir = flake_dir
        self.vm_target = vm_target
        self.clock = clock
        self.sleep = sleep
        self.exists = False
        self.fresh_staging: str | None = None  # the folder the node's mktemp made

    # -- names --------------------------------------------------------------------------
    @property
    def where(self) -> str:
        node = self.place.node or self.node.host
        return f"node {node} ({self.node})"

    @property
    def staging_template(self) -> str:
        return STAGING_TEMPLATE.format(vmid=self.spec.vmid)

    @property
    def staging(self) -> str:
        """The node's fresh folder; before it exists (a dry run), the template."""
        return self.fresh_staging or self.staging_template

    @property
    def remote_key(self) -> str:
        return f"{self.staging}/tappaas.pub"

    @property
    def attr(self) -> str:
        return f"{self.spec.name}-proxmox"

    @property
    def out_link(self) -> Path:
        return self.flake_dir / f"result-{self.attr}"

    @property
    def image_name(self) -> str:
        # modules/proxmox-image.nix: filenameSuffix "<vmid>-<name>"
        return f"vzdump-qemu-{self.spec.vmid}-{self.spec.name}.vma.zst"

    def on_node(self, *words: str) -> Command:
        """ssh to the node with one remote command line, every word quoted."""
        return Command((*NODE_SSH, "--", str(self.node), shell.join(words)))

    def _node_hint(self) -> str:
        return (
            f"check that `ssh {self.node} true` works from this machine without a password "
            "(TAPPaaS: the CI/CD machine's key is in the node's /root/.ssh/authorized_keys)"
        )

    # -- steps --------------------------------------------------------------------------
    def look_up(self) -> None:
        """Is the VM id free? Refuse when another VM has it; remember when this VM has it."""
        vmid, name = self.spec.vmid, self.spec.name
        self.steps.header(f"Look for VM {vmid} on Proxmox {self.where}")
        status = self.on_node("qm", "status", str(vmid))
        if self.steps.dry_run:
            self.steps.show(status)
            config = self.on_node("qm", "config", str(vmid))
            self.steps.say(f"      when VM {vmid} exists: $ {config.display()}")
            self.steps.say(
                f"      (a VM {vmid} named {name} is left as it is and the steps to create it "
                "are skipped; another VM with that id stops the deploy)"
            )
            return
        code, out, err = self.steps.attempt(status)
        if code != 0:
            if "does not exist" in err:
                self.steps.say(f"      VM {vmid} does not exist yet: it will be created")
                return
            for stream in (out, err):
                if stream.strip():
                    self.steps.say(f"      {stream.strip()}")
            raise self.steps.fail(
                f"cannot ask {self.node} about VM {vmid}: {status.argv[0]} exited with "
                f"status {code}",
                hint=self._node_hint(),
                exit_code=code,
            )
        code, config, err = self.steps.attempt(self.on_node("qm", "config", str(vmid)))
        if code != 0:
            raise self.steps.fail(
                f"VM {vmid} exists on {self.where}, but `qm config {vmid}` failed: "
                f"{err.strip() or f'status {code}'}",
                hint=self._node_hint(),
                exit_code=code,
            )
        found = _vm_name(config)
        if found != name:
            shown = repr(found) if found else "a VM without a name"
            raise InputError(
                f"{self.display}: .vmid {vmid} is taken on {self.where} by {shown}, not "
                f"{name!r}; nothing was changed; allowed: a free VM id for {name}"
            )
        self.exists = True
        self.steps.say(
            f"      VM {vmid} ({name}) exists ({out.strip() or 'status unknown'}): it is left "
            "as it is, and the deploy goes on with it"
        )

    def create(self) -> None:
        """Build, copy, restore, set, start, wait for SSH (all skipped when the VM exists)."""
        if self.exists:
            self.steps.skip(
                CREATE_STEPS - 2, f"Create VM {self.spec.vmid}: skipped, it exists already"
            )
            return
        self.build()
        self.copy()
        self.restore()
        self.settings()
        self.start()
        self.wait_for_ssh()

    def build(self) -> None:
        self.steps.header(f"Build the Proxmox image of {self.spec.name} (.#{self.attr})")
        build = Command(
            (
                *("nix", "--extra-experimental-features", "nix-command flakes", "build"),
                *("--out-link", self.out_link.name, f".#{self.attr}"),
            ),
            cwd=self.flake_dir,
        )
        self.steps.run(
            build,
            capture=False,
            hint="see the build output above; the image needs a Nix with access to the "
            "binary cache (or time to build) and a few GB in /nix/store",
        )
        self.steps.say(f"      image: {self.image()}")

    def image(self) -> Path:
        expected = self.out_link / self.image_name
        if self.steps.dry_run or expected.is_file():
            return expected
        found = sorted(self.out_link.glob("*.vma.zst"))
        if len(found) != 1:
            raise self.steps.fail(
                f"no {expected.name} in {self.out_link} (found: "
                f"{', '.join(p.name for p in found) or 'nothing'})",
                hint=f"look at what `nix build .#{self.attr}` built: ls -l {self.out_link}/",
            )
        return found[0]

    def copy(self) -> None:
        self.steps.header(
            f"Copy the image and the SSH key to a fresh folder on {self.node.host} "
            f"({self.staging_template})"
        )
        hint = self._node_hint()
        made = self.steps.run(
            self.on_node("mktemp", "-d", "--", self.staging_template), capture=True, hint=hint
        )
        if self.steps.dry_run:
            self.steps.say(f"      ({self.staging} below is the folder mktemp makes)")
        else:
            self.fresh_staging = self._fresh_folder(made)
            self.steps.say(f"      folder: {self.fresh_staging}")
        for source, dest in ((self.image(), f"{self.staging}/"), (self.key, self.remote_key)):
            scp = Command(("scp", "-o", "BatchMode=yes", "--", str(source), f"{self.node}:{dest}"))
            self.steps.run(
                scp, capture=False, hint=hint + "; and that the node has room in /var/tmp"
            )

    def _fresh_folder(self, output: str) -> str:
        """The folder the node's mktemp printed: the template with its X's filled in."""
        path = output.strip()
        prefix = self.staging_template.removesuffix("XXXXXXXXXX")
        suffix = path.removeprefix(prefix)
        if path == suffix or not re.fullmatch(r"[A-Za-z0-9]{10}", suffix):
            raise self.steps.fail(
                f"mktemp on {self.node} printed {path[:80]!r}, not a folder like "
                f"{self.staging_template}",
                hint="check `mktemp -d` on the node (GNU coreutils)",
            )
        return path

    def restore(self) -> None:
        vmid, storage = self.spec.vmid, self.place.storage
        self.steps.header(f"Restore the image as VM {vmid} on storage {storage}")
        archive = f"{self.staging}/{self.image_name}"
        # --unique 1: a random MAC address for net0. Never --force: an existing VM is not touched.
        restore = self.on_node(
            "qmrestore", archive, str(vmid), "--storage", storage, "--unique", "1"
        )
        self.steps.run(
            restore,
            capture=True,
            hint=f"qmrestore refuses a VM id used anywhere in the cluster and never changes that "
            f"VM; the copied files stay in {self.staging} on the node "
            f"(remove them with: ssh {self.node} rm -rf -- {self.staging})",
        )

    def settings(self) -> None:
        vmid, storage = str(self.spec.vmid), self.place.storage
        self.steps.header(f"Set what the image cannot carry: tags, SSH key, EFI disk (VM {vmid})")
        qm_set = self.on_node(
            *("qm", "set", vmid, "--tags", self.place.tags),
            *("--ciuser", DEFAULT_USER, "--sshkeys", self.remote_key, "--ipconfig0", "ip=dhcp"),
            *("--efidisk0", f"{storage}:1,efitype=4m,pre-enrolled-keys=0"),
        )
        self.steps.run(qm_set, capture=True, hint=f"see `qm config {vmid}` on the node")
        self.steps.run(
            self.on_node("rm", "-rf", "--", self.staging), capture=True, hint=self._node_hint()
        )

    def start(self) -> None:
        vmid = str(self.spec.vmid)
        self.steps.header(f"Start VM {vmid}")
        self.steps.run(
            self.on_node("qm", "start", vmid),
            capture=True,
            hint=f"see `qm config {vmid}` and the task log in the Proxmox web interface",
        )

    def wait_for_ssh(self) -> None:
        target, timeout = self.vm_target, self.options.boot_timeout
        self.steps.header(f"Wait until {target} answers over SSH")
        # A VM that had this name before left its host key in known_hosts; the new VM has
        # a new one, which accept-new would refuse.
        forget = Command(("ssh-keygen", "-R", target.host))
        probe = Command((*VM_SSH, "--", str(target), "true"))
        self.steps.show(forget)
        self.steps.say(
            f"      $ {probe.display()}   (every {SSH_POLL_SECONDS:g} s, up to {timeout:g} s)"
        )
        if self.steps.dry_run:
            return
        self.steps.attempt(forget)  # nothing to forget is fine
        start = self.clock()
        last = ""
        while True:
            code, _out, err = self.steps.attempt(probe)
            if code == 0:
                self.steps.say(f"      {target} answers after {int(self.clock() - start)} s")
                return
            last = err.strip().splitlines()[-1] if err.strip() else f"status {code}"
            elapsed = self.clock() - start
            if elapsed >= timeout:
                raise self.steps.fail(
                    f"{target} did not answer over SSH within {timeout:g} s (last: {last})",
                    hint=f"watch the VM boot: ssh {self.node} qm terminal {self.spec.vmid} "
                    "(serial console); check DHCP and DNS for the VM's name in its zone",
                )
            self.sleep(min(SSH_POLL_SECONDS, max(0.0, timeout - elapsed)))
