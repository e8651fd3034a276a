"""A site's own choices never block an update: TAPPaaS's `git pull` after deploy and upgrade.

A copy of this flake is committed as "upstream" and cloned where TAPPaaS keeps it. The site
deploys from its /home/tappaas/config/litellm.json (its own size), upgrades the image, runs
generate and service-key; then upstream commits a new sample host, a new image pin and a README
change, and the clone is pulled with the very command line of TAPPaaS's pre-update.sh (read
from ../shared/reference/tappaas, run in place). Real git and real Nix (2.8, the flake's own
flake.nix with stand-in inputs and a private store); nixos-rebuild, the VM behind ssh and
verify are stand-ins at the machine boundary, as in the tool's own deploy and upgrade tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from nixtools import ROOT

sys.path.insert(0, str(ROOT / "generator" / "tests"))
from tappaas_litellm.admin import deploy as deploy_module
from tappaas_litellm.admin import upgrade_over_ssh as upgrade_module
from tappaas_litellm.cli import main
from test_gen_upgrade import NEW_DIGEST, NEW_SRI, vm_stand_ins

PRE_UPDATE = ROOT.parent / "shared/reference/tappaas/src/foundation/tappaas-cicd/pre-update.sh"
BRANCH = "main"
UPSTREAM_PIN = {
    "imageName": "ghcr.io/berriai/litellm-database",
    "finalImageTag": "v1.91.0",
    "imageDigest": "sha256:" + "cd" * 32,
    "hash": "sha256-" + "A" * 43 + "=",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "upstream",
    "GIT_AUTHOR_EMAIL": "upstream@example.org",
    "GIT_COMMITTER_NAME": "upstream",
    "GIT_COMMITTER_EMAIL": "upstream@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, **GIT_ENV},
    ).stdout  # fmt: skip


def pull_as_tappaas_does(clone: Path) -> subprocess.CompletedProcess[str]:
    """pre-update.sh's own line for each repository, taken from the file and run as it is."""
    lines = [line.strip() for line in PRE_UPDATE.read_text().splitlines()]
    [line] = [line for line in lines if "git fetch origin && git checkout" in line]
    script = 'warn() { echo "WARN: $*"; exit 7; }\n' + line
    env = {**os.environ, **GIT_ENV, "REPO_PATH": str(clone), "REPO_BRANCH": BRANCH,
           "REPO_NAME": "tappaas-litellm"}  # fmt: skip
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def modified_tracked(clone: Path) -> list[str]:
    """`git status --porcelain` lines of tracked files with changes (added entries aside)."""
    status = git(clone, "status", "--porcelain").splitlines()
    return [line for line in status if line[:2] not in (" A", "A ", "??")]


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "healthy"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ready_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(upstream work tree, the site's clone); the site's config folder with its own size."""
    upstream = tmp_path / "upstream"
    for name in git(ROOT, "ls-files", "-z").split("\0"):
        if name and (ROOT / name).is_file():
            (upstream / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, upstream / name)
    git(upstream, "init", "-q", "-b", BRANCH)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "upstream")
    clone = tmp_path / "home" / "tappaas-litellm"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))

    config = tmp_path / "config"
    config.mkdir()
    module = json.loads((ROOT / "litellm.json").read_text())
    module["config"]["cluster:vm"] |= {"cores": 6, "memory": "8192"}
    (config / "litellm.json").write_text(json.dumps(module, indent=2))
    monkeypatch.setenv("TAPPAAS_CONFIG_DIR", str(config))
    monkeypatch.delenv("NIX_SSHOPTS", raising=False)
    monkeypatch.chdir(clone)
    # verify runs against a real VM; here it is replaced, as in the tool's deploy tests.
    monkeypatch.setattr(deploy_module, "run_verify", lambda *a, **k: 0)
    monkeypatch.setattr(upgrade_module, "run_verify", lambda *a, **k: 0)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    return upstream, clone


def upstream_changes(upstream: Path) -> None:
    """A new upstream version: the sample host, the module's image pin and the README."""
    sample = upstream / "hosts" / "litellm" / "default.nix"
    sample.write_text(sample.read_text() + "# upstream's new sample\n")
    pin = upstream / "modules" / "litellm" / "image.json"
    pin.write_text(json.dumps(UPSTREAM_PIN, indent=2) + "\n")
    readme = upstream / "README.md"
    readme.write_text(readme.read_text() + "\nA new upstream paragraph.\n")
    git(upstream, "commit", "-q", "-am", "upstream: new sample, new image, README")


def flake_hosts(clone: Path, tmp_path: Path) -> dict[str, str]:
    """nixosConfigurations of the clone as real Nix reads the git flake: host -> its folder."""
    stub = tmp_path / "stub-nixpkgs"
    stub.mkdir(exist_ok=True)
    (stub / "flake.nix").write_text(
        "{ outputs = _: { lib.nixosSystem = args: { inherit args; }; legacyPackages = { }; }; }\n"
    )
    generators = tmp_path / "stub-generators"
    generators.mkdir(exist_ok=True)
    (generators / "flake.nix").write_text("{ outputs = _: { }; }\n")
    apply = "cs: builtins.mapAttrs (n: c: toString (builtins.head c.args.modules)) cs"
    result = subprocess.run(
        ["nix", "eval", "--store", str(tmp_path / "nix-store"), "--no-write-lock-file",
         "--override-input", "nixpkgs", f"path:{stub}",
         "--override-input", "nixos-generators", f"path:{generators}",
         "--json", ".#nixosConfigurations", "--apply", apply],
        cwd=clone, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "NIX_CONFIG": "experimental-features = nix-command flakes",
             "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hosts = json.loads(result.stdout)
    return {name: path.split("-source/", 1)[1] for name, path in hosts.items()}


def host_value(host: Path, expression: str) -> object:
    """A value of the host file as Nix evaluates it (nix-instantiate)."""
    result = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "--expr",
         f"let host = import {host}; in {expression}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_site_deploy_and_upgrade_never_block_a_pull(
    site: tuple[Path, Path], tmp_path: Path, ready_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream, clone = site
    vm_stand_ins(tmp_path, monkeypatch)  # nixos-rebuild and the VM behind ssh
    live = ("--target-host", "tappaas@127.0.0.1", "--port", str(ready_port))
    cli("deploy", "litellm", *live, "--wait-timeout", "20")
    local = clone / "site" / "hosts" / "litellm" / "local.nix"
    local.write_text("{ tappaas.litellm.serviceKeys.openwebui = { }; }\n")
    cli("deploy", "litellm", *live, "--wait-timeout", "20")  # registers local.nix
    cli("upgrade", "litellm", "--image", "v1.90.0", "--digest", NEW_DIGEST, "--hash", NEW_SRI,
        *live, "--wait-timeout", "1")  # fmt: skip
    cli("generate", "litellm")
    cli("service-key", "litellm", "openwebui", "--dry-run")

    assert modified_tracked(clone) == []
    site_files = sorted(git(clone, "ls-files", "--", "site").split())
    assert site_files == [f"site/hosts/litellm/{n}" for n in ("default.nix", "image.json",
                                                               "local.nix")]  # fmt: skip
    host = clone / "site" / "hosts" / "litellm" / "default.nix"
    before = {p.name: p.read_bytes() for p in host.parent.iterdir()}

    upstream_changes(upstream)
    pulled = pull_as_tappaas_does(clone)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "WARN" not in pulled.stdout
    assert git(clone, "rev-parse", "HEAD") == git(upstream, "rev-parse", "HEAD")

    # What the site never overrode follows upstream.
    for name in ("README.md", "hosts/litellm/default.nix", "modules/litellm/image.json"):
        assert (clone / name).read_bytes() == (upstream / name).read_bytes(), name
    # The site's choices hold, and the flake still builds them.
    assert {p.name: p.read_bytes() for p in host.parent.iterdir()} == before
    assert modified_tracked(clone) == []
    assert flake_hosts(clone, tmp_path) == {"litellm": "site/hosts/litellm"}
    assert host_value(host, "(builtins.elemAt host.imports 3).tappaas.litellm.image") == (
        f"ghcr.io/berriai/litellm-database:v1.90.0@{NEW_DIGEST}"
    )
    assert host_value(host, "host.tappaas.litellm.resources") == {"cores": 6, "memoryMiB": 8192}
    assert host_value(host, "toString (builtins.elemAt host.imports 2)") == str(local)


def test_an_image_the_site_never_chose_follows_upstream(
    site: tuple[Path, Path], tmp_path: Path, ready_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream, clone = site
    stand_in_bin = tmp_path / "bin"
    stand_in_bin.mkdir()
    rebuild = stand_in_bin / "nixos-rebuild"
    rebuild.write_text(f"#!{sys.executable}\n")
    rebuild.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in_bin}{os.pathsep}{os.environ['PATH']}")
    cli("deploy", "litellm", "--target-host", "tappaas@127.0.0.1", "--port", str(ready_port))
    assert modified_tracked(clone) == []

    upstream_changes(upstream)
    pulled = pull_as_tappaas_does(clone)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    host = clone / "site" / "hosts" / "litellm" / "default.nix"
    assert not (host.parent / "image.json").exists()
    assert host_value(host, "builtins.length host.imports") == 2  # the module's pin applies
    pin = json.loads((clone / "modules" / "litellm" / "image.json").read_text())
    assert pin == UPSTREAM_PIN
    # The next upgrade starts from upstream's image, and writes only the site's pin.
    result = CliRunner().invoke(
        main, ["upgrade", "litellm", "--image", "v1.92.0", "--digest", NEW_DIGEST, "--hash",
               NEW_SRI, "--dry-run"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"now:  ghcr.io/berriai/litellm-database:v1.91.0@{'sha256:' + 'cd' * 32}" in (
        result.stdout
    )
    assert "would write " + str(host.parent / "image.json") in result.stdout
    assert modified_tracked(clone) == []
