"""Where a site's own choices live in the flake: `site/`, a folder upstream never tracks.

A TAPPaaS CI/CD machine updates this flake with `git pull`. A generated host, an image chosen
by `upgrade` and an admin's `local.nix` therefore never go into files upstream tracks (a pull
would stop at the first one upstream changes too); they go under `site/`:

    site/hosts/<vmname>/default.nix   the generated host (generate, deploy)
    site/hosts/<vmname>/local.nix     the admin's own settings (never written by the tool)
    site/hosts/<vmname>/image.json    the image `upgrade` pinned for this host

`.gitignore` lists `/site/`, so `git add -A` never commits it; a git flake sees only files git
knows, so the tool registers them with `git add --intent-to-add --force` (an index entry
without content: `git pull` fast-forwards past it, and nothing is ever committed). flake.nix
makes every host in site/hosts a configuration, in place of the upstream sample of the same
name in hosts/, which keeps following upstream.
"""

from __future__ import annotations

import os
from pathlib import Path

from tappaas_litellm.admin.image_pin import PIN_FILE as UPSTREAM_PIN
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.common.process import Command

__all__ = [
    "HOST_FILE",
    "LOCAL_FILE",
    "PIN_FILE_NAME",
    "SITE_HOSTS",
    "UPSTREAM_HOSTS",
    "UPSTREAM_PIN",
    "changed_upstream_command",
    "changed_upstream_warnings",
    "check_old_layout",
    "git_check_command",
    "host_dir",
    "register_command",
    "site_files",
    "site_host_dir",
]

SITE_HOSTS = Path("site/hosts")  # relative to the flake
UPSTREAM_HOSTS = Path("hosts")  # the samples upstream tracks
HOST_FILE = "default.nix"
LOCAL_FILE = "local.nix"
PIN_FILE_NAME = "image.json"


def site_host_dir(flake_root: Path, name: str) -> Path:
    return flake_root / SITE_HOSTS / name


def host_dir(flake_root: Path, name: str) -> Path:
    """The folder of host `name` the flake builds: the site's, else the upstream sample."""
    site = site_host_dir(flake_root, name)
    if (site / HOST_FILE).is_file():
        return site
    return flake_root / UPSTREAM_HOSTS / name


def site_files(folder: Path) -> list[Path]:
    """The files of a site host folder that exist and the flake must see."""
    return [folder / n for n in (HOST_FILE, LOCAL_FILE, PIN_FILE_NAME) if (folder / n).is_file()]


def git_check_command(flake_root: Path) -> Command:
    return Command(("git", "rev-parse", "--is-inside-work-tree"), cwd=flake_root)


def register_command(flake_root: Path, files: list[Path]) -> Command:
    """`git add --intent-to-add --force` of site files: visible to the flake, never committed
    (--force: site/ is in .gitignore)."""
    relative = [os.path.relpath(path.resolve(), flake_root.resolve()) for path in files]
    return Command(("git", "add", "--intent-to-add", "--force", "--", *relative), cwd=flake_root)


def check_old_layout(flake_root: Path, name: str) -> None:
    """Refuse while an admin's local.nix is still where earlier versions kept it
    (hosts/<name>/local.nix): the site's host would be built without it."""
    old = flake_root / UPSTREAM_HOSTS / name / LOCAL_FILE
    new = site_host_dir(flake_root, name) / LOCAL_FILE
    if old.is_file() and not new.exists():
        shown_old, shown_new = f"{UPSTREAM_HOSTS}/{name}/{LOCAL_FILE}", f"{SITE_HOSTS}/{name}/"
        raise InputError(
            f"{shown_old} is where earlier versions kept your settings; the host is now "
            f"{SITE_HOSTS}/{name}/ and would be built without them; allowed: move it there "
            f"(in {flake_root}: git rm -q --cached {shown_old}; mkdir -p {shown_new} && "
            f"mv {shown_old} {shown_new})"
        )


def changed_upstream_command(flake_root: Path, name: str) -> Command:
    """Which of upstream's files an earlier deploy or upgrade changed (`git diff HEAD`)."""
    paths = (f"{UPSTREAM_HOSTS}/{name}/{HOST_FILE}", str(UPSTREAM_PIN))
    return Command(("git", "diff", "HEAD", "--name-only", "--", *paths), cwd=flake_root)


def changed_upstream_warnings(output: str, name: str) -> list[str]:
    """What to do with upstream files an earlier version of the tool changed: they would stop
    the next `git pull` once upstream changes them too."""
    changed = set(output.split())
    warnings = []
    sample = f"{UPSTREAM_HOSTS}/{name}/{HOST_FILE}"
    if sample in changed:
        warnings.append(
            f"{sample} has changes from an earlier deploy; the host now comes from "
            f"{SITE_HOSTS}/{name}/. Give the file back to upstream (a later git pull stops on "
            f"it otherwise): git checkout -- {sample}"
        )
    if str(UPSTREAM_PIN) in changed:
        pin = f"{SITE_HOSTS}/{name}/{PIN_FILE_NAME}"
        warnings.append(
            f"{UPSTREAM_PIN} has changes from an earlier upgrade; this site's image belongs in "
            f"{pin}: cp {UPSTREAM_PIN} {pin} && git checkout -- {UPSTREAM_PIN}, then deploy"
        )
    return warnings
