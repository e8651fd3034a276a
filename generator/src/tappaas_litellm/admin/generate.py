"""`generate`: module file in, hosts/<name>/default.nix out."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tappaas_litellm.admin import site
from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.common.process import CommandNotFoundError, Runner
from tappaas_litellm.hostfile.input_files import ConfigChoice, find_config, find_zones
from tappaas_litellm.hostfile.module_file import LoadedModule, load_module_file
from tappaas_litellm.hostfile.render import HostFile, plan_host_file
from tappaas_litellm.hostfile.scale_out import Datastore, GatewayOf
from tappaas_litellm.hostfile.sizing import sizing_warnings, tier_for

__all__ = ["LOCAL_FILE_NAME", "Generated", "describe_local_file", "prepare", "register_site_host"]

# tappaas.litellm.database.poolLimit's default: connections per LiteLLM worker.
POOL_LIMIT = 10

# The host's own settings, next to the generated default.nix; never written or deleted here.
LOCAL_FILE_NAME = "local.nix"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Generated:
    choice: ConfigChoice
    module: LoadedModule
    host: HostFile

    @property
    def name(self) -> str:
        return self.module.spec.name


def prepare(
    name: str,
    *,
    config: Path | None,
    zones_file: Path | None,
    out_dir: Path,
    info: Say,
    warn: Say,
    other_vmname: bool = False,
) -> Generated:
    """Find and validate the module file and render the host file; nothing is written.

    A module file whose vmname is not `name` is refused unless `other_vmname`: the host is
    written to <out_dir>/<vmname>/, another VM's folder."""
    choice = find_config(name, config)
    info(choice.describe())
    zones = find_zones(zones_file)
    module = load_module_file(choice.path, zones)
    spec = module.spec
    host = plan_host_file(spec, choice.path, out_dir)
    folder = _shown_folder(host)
    if spec.name != name and not other_vmname:
        raise InputError(
            f"{choice.path}: its vmname is {spec.name!r}, not {name!r}, so the host would go to "
            f"{folder}, the host of {spec.name}; allowed: NAME {spec.name}, a module file "
            f"whose vmname is {name}, or --other-vmname to write {folder} from this file"
        )
    info(
        f"zone {spec.zone.name}: VLAN {spec.zone.vlantag}, domain {spec.zone.domain} "
        f"(from {zones.source})"
    )

    for note in module.notes:
        info(f"note: {note}")
    if spec.name != name:
        info(
            f"note: the module file names the VM {spec.name!r}: the host is {spec.name}, not {name}"
        )
    info(f"host folder: {folder} (the module file's vmname {spec.name})")
    for warning in module.warnings:
        warn(warning)
    for warning in sizing_warnings(spec.cores, spec.memory_mib):
        warn(warning)
    role = spec.role
    if isinstance(role, Datastore):
        listed = ", ".join(f"{g.name} ({g.address}, {g.workers} workers)" for g in role.gateways)
        pools = sum(g.workers for g in role.gateways) * POOL_LIMIT
        info(
            f"role: datastore on {role.address} for {listed}; their workers may open {pools} "
            f"database connections (pool limit {POOL_LIMIT}), max_connections follows"
        )
    elif isinstance(role, GatewayOf):
        info(
            f"role: gateway of the datastore {role.datastore} "
            f"(PostgreSQL and Redis at {role.datastore}.{spec.zone.domain}); before its first "
            f"deploy, copy /etc/secrets from {role.datastore} to this VM"
        )
    tier = tier_for(spec.cores, spec.memory_mib)
    sized = f"{spec.cores} vCPU / {spec.memory_mib} MiB"
    info(f"sizing: {sized}, guide tier {tier.describe()}" if tier else f"sizing: {sized}")
    if spec.app_version is not None:
        info(
            f"note: appVersion {spec.app_version} is informational; "
            "the module pins the LiteLLM image (tappaas.litellm.image)"
        )
    describe_local_file(host.path.parent / LOCAL_FILE_NAME, host.flake_root, info=info, warn=warn)
    return Generated(choice=choice, module=module, host=host)


def _shown_folder(host: HostFile) -> str:
    """The host's folder, relative to the flake when it is inside one."""
    folder = host.path.parent.resolve()
    if host.flake_root is not None and folder.is_relative_to(host.flake_root):
        return folder.relative_to(host.flake_root).as_posix() + "/"
    return folder.as_posix() + "/"


def describe_local_file(local: Path, flake_root: Path | None, *, info: Say, warn: Say) -> None:
    """Say whether the host's local.nix exists (it is imported, and kept as it is), and warn
    when git does not track it: a flake sees only files git knows, so Nix would skip it."""
    if not local.is_file():
        return
    shown = os.path.relpath(local, flake_root) if flake_root is not None else str(local)
    info(f"local settings: {shown} is imported by the host and left as it is")
    if flake_root is None or not (flake_root / ".git").exists():
        return
    if local.resolve().is_relative_to(flake_root / site.SITE_HOSTS):
        return  # generate and deploy make the site's files visible themselves
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", "--", shown],
            cwd=flake_root,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    if tracked.returncode != 0:
        warn(
            f"{shown} is not known to git, so the flake does not see it and the host is built "
            f"without it; run: git add --intent-to-add --force {shell.quote(shown)}"
        )


def register_site_host(host: HostFile, runner: Runner, *, info: Say, warn: Say) -> None:
    """Make a host written under <flake>/site/ visible to the flake: `git add --intent-to-add
    --force` of its files in a git clone (a plain folder flake sees every file anyway)."""
    root = host.flake_root
    if root is None or not host.path.parent.resolve().is_relative_to(root / site.SITE_HOSTS):
        return
    try:
        if runner.run_command(site.git_check_command(root), capture=True).returncode != 0:
            return
        add = site.register_command(root, site.site_files(host.path.parent))
        result = runner.run_command(add, capture=True)
    except CommandNotFoundError:
        warn("git not found: the flake sees the site's host only once git knows it")
        return
    if result.returncode != 0:
        detail = " ".join((result.stderr or "").split()) or f"status {result.returncode}"
        warn(f"{add.display()} failed ({detail}): the flake does not see the site's host yet")
        return
    info(f"made visible to the flake (not committed): $ {add.display()}")
