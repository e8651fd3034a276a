"""Rendering the host file from the template, and writing it without half-written files."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import jinja2

from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile import bundled
from tappaas_litellm.hostfile.module_file import VmSpec
from tappaas_litellm.hostfile.nixstr import nix_comment, nix_path, nix_string
from tappaas_litellm.hostfile.scale_out import Datastore, GatewayOf
from tappaas_litellm.hostfile.sizing import MINIMUM, tier_for

__all__ = [
    "HostFile",
    "find_flake_root",
    "plan_host_file",
    "render_host",
    "source_label",
    "write_host_file",
]

HOST_FILE_NAME = "default.nix"


class NixText(str):
    """Text that is already Nix source (made by one of the filters below)."""

    __slots__ = ()


def _finalize(value: object) -> object:
    # Every {{ … }} in the template must go through a filter, except plain integers.
    if isinstance(value, NixText):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise jinja2.TemplateError(
        f"{value!r} reached the template without the nix, comment or path filter"
    )


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters["nix"] = lambda value: NixText(nix_string(value))
    env.filters["comment"] = lambda value: NixText(nix_comment(str(value)))
    env.filters["path"] = lambda value: NixText(nix_path(value))
    return env


def _template() -> jinja2.Template:
    text = bundled.read_text("templates/host.nix.j2")
    try:
        return _environment().from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(
            f"the tool's bundled templates/host.nix.j2 is damaged (line {exc.lineno}: "
            f"{exc.message}); reinstall tappaas-litellm"
        ) from None


def find_flake_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds flake.nix."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / "flake.nix").is_file():
            return folder
    return None


def source_label(source: Path, flake_root: Path | None) -> str:
    """How the host file names its source: relative to the flake if inside it."""
    resolved = source.resolve()
    if flake_root is not None and resolved.is_relative_to(flake_root):
        return resolved.relative_to(flake_root).as_posix()
    return resolved.as_posix()


def render_host(spec: VmSpec, *, source: str, module: str, profile: str) -> str:
    """The text of hosts/<name>/default.nix (deterministic for the same arguments)."""
    tier = tier_for(spec.cores, spec.memory_mib)
    tier_text = tier.describe() if tier else f"below the minimum, {MINIMUM.describe()}"
    regenerate = f"tappaas-litellm generate {spec.name}"
    if PurePosixPath(source).name != f"{spec.name}.json":
        regenerate += f" --config {shell.quote(source)}"
    role = spec.role
    return _template().render(
        spec=spec,
        source=source,
        regenerate=regenerate,
        tier=tier_text,
        # A host's own image.json (written by `upgrade`) is read by the module's image-pin.nix.
        imports={"module": module, "profile": profile, "pin": f"{module}/image-pin.nix"},
        datastore=role if isinstance(role, Datastore) else None,
        gateway_of=(
            {"name": role.datastore, "host": f"{role.datastore}.{spec.zone.domain}"}
            if isinstance(role, GatewayOf)
            else None
        ),
    )


@dataclass(frozen=True)
class HostFile:
    path: Path  # hosts/<name>/default.nix
    content: str
    source_label: str
    flake_root: Path | None

    def state(self) -> Literal["new", "changed", "unchanged"]:
        try:
            current = self.path.read_bytes()
        except FileNotFoundError:
            return "new"
        except OSError:
            return "changed"
        return "unchanged" if current == self.content.encode("utf-8") else "changed"


def plan_host_file(spec: VmSpec, source: Path, out_dir: Path) -> HostFile:
    """Render the host file for `spec` into `out_dir`/<name>/default.nix (nothing written)."""
    out_dir = Path(os.path.abspath(out_dir))
    host_dir = out_dir / spec.name
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists())
    flake_root = find_flake_root(existing)
    if flake_root is not None:
        module = os.path.relpath(flake_root / "modules" / "litellm", host_dir)
        profile = os.path.relpath(flake_root / "modules" / "tappaas-vm.nix", host_dir)
    else:  # assume out_dir is <flake>/hosts
        module, profile = "../../modules/litellm", "../../modules/tappaas-vm.nix"
    module, profile = Path(module).as_posix(), Path(profile).as_posix()
    if not module.startswith("../"):
        module, profile = f"./{module}", f"./{profile}"
    label = source_label(source, flake_root)
    try:
        content = render_host(spec, source=label, module=module, profile=profile)
    except ValueError as exc:
        raise InputError(f"--out {out_dir}: {exc}") from None
    return HostFile(
        path=host_dir / HOST_FILE_NAME, content=content, source_label=label, flake_root=flake_root
    )


def write_host_file(host: HostFile) -> Literal["new", "changed", "unchanged"]:
    """Write atomically (temporary file, then rename); leave everything as it was on error."""
    state = host.state()
    if state == "unchanged":
        return state
    host_dir = host.path.parent
    out_dir = host_dir.parent
    for folder in (out_dir, host_dir):
        if folder.exists() and not folder.is_dir():
            raise InputError(f"--out: {folder} is not a folder; allowed: a folder you can write to")
    if host.path.is_dir():
        raise InputError(f"{host.path} is a folder; allowed: a file path for the host file")

    created: list[Path] = []
    tmp_name: str | None = None
    done = False
    try:
        missing = [p for p in (host_dir, *host_dir.parents) if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        fd, tmp_name = tempfile.mkstemp(dir=host_dir, prefix=".default.nix.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(host.content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, host.path)
        done = True
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = exc.filename or host_dir
        raise InputError(
            f"--out {out_dir}: cannot write {host.path} ({where}: {reason}); "
            "allowed: a folder you can write to"
        ) from None
    finally:
        if not done:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    folder.rmdir()
    return state
