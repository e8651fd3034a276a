"""upgrade: the plans (--dry-run), image.json, and the rollback with stand-ins at the SSH boundary.

`ssh`, `nixos-rebuild` and `nix-prefetch-docker` are stand-in programs on PATH that play a VM
(its generation, schema migrations, keys, PostgreSQL major) in a JSON file; the tool runs them
as real subprocesses. /health/readiness is a real HTTP server; verify is replaced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from genhelpers import path_with, run_cli, stand_in
from tappaas_litellm.admin import deploy as deploy_module
from tappaas_litellm.admin import upgrade_over_ssh as upgrade_module
from tappaas_litellm.admin.image_pin import (
    ImagePin,
    check_hash,
    nix_base32_to_sri,
    parse_prefetch_output,
    read_pin,
    write_pin,
)
from tappaas_litellm.admin.upgrade_helper import VmState
from tappaas_litellm.admin.upgrade_rollback import needs_restore
from tappaas_litellm.common.errors import InputError, StepError

pytestmark = pytest.mark.timeout(120)

OLD_PIN = {
    "imageName": "ghcr.io/berriai/litellm-database",
    "finalImageTag": "v1.89.3",
    "imageDigest": "sha256:598664e0bed053e774d5dbd18745ddce890e8c6909390ccf669beae443a9d984",
    "hash": "sha256-/9K1dpdydpAeL1G3FcG+EJYVnwpIff9d6Sb+JTO9pO0=",
}
NEW_DIGEST = "sha256:" + "ab" * 32
NEW_HASH_RAW = bytes(range(32))
NEW_SRI = "sha256-" + base64.b64encode(NEW_HASH_RAW).decode()
HELPER_TEXT = "# the helper's text, sent on stdin\n"
DUMP = "/var/backup/postgresql/litellm-20260301T020000Z.dump"

# A VM in a JSON file; `ssh` answers litellm-upgrade-helper calls from it and logs each call.
SSH_SOURCE = r"""
import json, os, shlex, sys
vm_path = os.environ["UPGRADE_VM"]
vm = json.load(open(vm_path))
argv = sys.argv[1:]
stdin = sys.stdin.read()
assert "--" in argv and argv.index("--") == len(argv) - 3, argv
host, remote = argv[-2], argv[-1]
inner = shlex.split(remote)[-1]
helper = inner.split("litellm-upgrade-helper", 1)
assert helper[0].rstrip().endswith('bash -c "$(cat)"'), inner
args = shlex.split(helper[1])
sudo = remote.startswith("sudo -n")
vm["calls"].append({"host": host, "args": args, "stdin": stdin, "sudo": sudo})
command = args[0]
out = ""
fail = vm["fail"].get(command)
if fail and fail.get("times", 1) > 0:
    fail["times"] = fail.get("times", 1) - 1
    json.dump(vm, open(vm_path, "w"))
    sys.stderr.write(fail["stderr"] + "\n")
    sys.exit(fail["rc"])
if command == "state":
    names = ("generation", "keys", "pg_major", "migrations", "service")
    out = "".join(f"{k}={vm[k]}\n" for k in names)
elif command in ("stop", "start"):
    vm["service"] = "inactive" if command == "stop" else "active"
elif command == "backup":
    vm["dump_migrations"] = vm["migrations"]
    out = f"dump={vm['dump']}\nredis=/var/backup/redis/r.rdb\nenv=/var/backup/litellm-env/e.tgz\n"
elif command == "check-dump":
    out = "tables=40\nrows=1234\n"
elif command == "restore-dump":
    vm["migrations"] = vm["dump_migrations"]
elif command == "switch-generation":
    vm["generation"] = int(args[1])
    vm["pg_major"] = vm["generations"][args[1]]["pg_major"]
    vm["migrations"] = vm["migrations"] if vm["kept_migrations_on_switch"] else vm["migrations"]
elif command == "drop-generation":
    out = f"dropped={args[1]}\n"
elif command == "pg-set-aside":
    out = f"kept=/var/lib/postgresql/{args[1]}.failed-x\n"
json.dump(vm, open(vm_path, "w"))
sys.stdout.write(out)
"""

# nixos-rebuild: a new generation, with what the "new configuration" does to the VM.
REBUILD_SOURCE = r"""
import json, os, sys
vm_path = os.environ["UPGRADE_VM"]
vm = json.load(open(vm_path))
site_pin = "site/hosts/litellm/image.json"  # the site's own pin, else the module's
pin = open(site_pin if os.path.exists(site_pin) else "modules/litellm/image.json").read()
vm["calls"].append({"nixos-rebuild": sys.argv[1:], "pin": pin})
rebuild = vm["rebuild"]
if rebuild["rc"] == 0:
    vm["generation"] += 1
    vm["generations"][str(vm["generation"])] = {"pg_major": rebuild.get("pg_major", vm["pg_major"])}
    vm["pg_major"] = rebuild.get("pg_major", vm["pg_major"])
    vm["migrations"] = rebuild.get("migrations", vm["migrations"])
    vm["keys"] = rebuild.get("keys", vm["keys"])
json.dump(vm, open(vm_path, "w"))
sys.exit(rebuild["rc"])
"""

PREFETCH_SOURCE = r"""
import os, sys
sys.stderr.write("fetching\n")
sys.stdout.write(os.environ["PREFETCH_OUT"])
sys.exit(int(os.environ.get("PREFETCH_RC", "0")))
"""


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = self.server.status  # type: ignore[attr-defined]
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"status": "healthy"}' if status == 200 else b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ready() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """verify is replaced; append 1 to make the next verify fail."""
    outcomes: list[int] = []

    def fake_verify(name: str, host: str | None, **kwargs: object) -> int:
        return outcomes.pop(0) if outcomes else 0

    monkeypatch.setattr(upgrade_module, "run_verify", fake_verify)
    monkeypatch.setattr(deploy_module, "POLL_SECONDS", 0.05)
    return outcomes


@pytest.fixture
def vm(flake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The flake with a host, the pin and the helper; stand-ins on PATH; the VM's JSON file."""
    (flake / "site" / "hosts" / "litellm").mkdir(parents=True)
    (flake / "site" / "hosts" / "litellm" / "default.nix").write_text("{ }\n")
    scripts = flake / "modules" / "litellm" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "litellm-upgrade-helper.sh").write_text(HELPER_TEXT)
    (flake / "modules" / "litellm" / "image.json").write_text(json.dumps(OLD_PIN, indent=2) + "\n")
    path = vm_stand_ins(tmp_path, monkeypatch)
    monkeypatch.chdir(flake)
    return path


def vm_stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ssh, nixos-rebuild and nix-prefetch-docker stand-ins on PATH, playing the VM whose
    state is the JSON file returned."""
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, "ssh", SSH_SOURCE)
    stand_in(bin_dir, "nixos-rebuild", REBUILD_SOURCE)
    stand_in(bin_dir, "nix-prefetch-docker", PREFETCH_SOURCE)
    monkeypatch.setenv("PATH", path_with(bin_dir))
    state = {
        "generation": 7,
        "generations": {"7": {"pg_major": "17"}},
        "keys": "k" * 64,
        "pg_major": "17",
        "migrations": "3 " + "a" * 64,
        "service": "active",
        "dump": DUMP,
        "fail": {},
        "rebuild": {"rc": 0},
        "kept_migrations_on_switch": True,
        "calls": [],
    }
    path = tmp_path / "vm.json"
    path.write_text(json.dumps(state))
    monkeypatch.setenv("UPGRADE_VM", str(path))
    monkeypatch.setenv(
        "PREFETCH_OUT",
        json.dumps(
            {
                "imageName": OLD_PIN["imageName"],
                "imageDigest": NEW_DIGEST,
                "sha256": _nix32(NEW_HASH_RAW),
                "finalImageName": OLD_PIN["imageName"],
                "finalImageTag": "v1.90.0",
            }
        ),
    )
    return path


def _nix32(raw: bytes) -> str:
    """Nix's base32 of a hash (the encoder nix-prefetch-docker's nix-hash uses)."""
    alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
    length = (len(raw) * 8 - 1) // 5 + 1
    chars = []
    for n in range(length - 1, -1, -1):
        b = n * 5
        i, j = divmod(b, 8)
        c = (raw[i] >> j) | (0 if i >= len(raw) - 1 else raw[i + 1] << (8 - j))
        chars.append(alphabet[c & 0x1F])
    return "".join(chars)


def _vm(path: Path) -> dict:
    return json.loads(path.read_text())


def _helper_calls(path: Path) -> list[list[str]]:
    return [c["args"] for c in _vm(path)["calls"] if "args" in c]


def _upgrade(*args: str) -> Result:
    return run_cli("upgrade", "litellm", *args)


def _live(ready: ThreadingHTTPServer, *args: str) -> Result:
    port = str(ready.server_address[1])
    return _upgrade(
        "--target-host", "tappaas@127.0.0.1", "--port", port, "--wait-timeout", "1", *args
    )


def _pin(flake: Path) -> dict:
    """The pin the host is built with: the site's own, else the module's (never written)."""
    assert json.loads((flake / "modules" / "litellm" / "image.json").read_text()) == OLD_PIN
    site_pin = flake / "site" / "hosts" / "litellm" / "image.json"
    return json.loads(site_pin.read_text()) if site_pin.exists() else OLD_PIN


# ------------------------------------------------------------------ plans
def test_dry_run_image_plan_runs_nothing(vm: Path, flake: Path) -> None:
    result = _upgrade("--image", "v1.90.0", "--dry-run")
    assert result.exit_code == 0, result.output
    steps = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert steps[:8] == [
        "[1/8] Resolve the new tag to a digest and Nix hash",
        "[2/8] Read the VM's state: generation, keys, PostgreSQL, schema migrations",
        "[3/8] Stop LiteLLM and take fresh backups (PostgreSQL, Redis, secrets)",
        "[4/8] Check the dump restores into a scratch database",
        "[5/8] Pin the new image for this site in site/hosts/litellm/",
        "[6/8] Build and switch litellm (tappaas@litellm.srvwork.internal)",
        "[7/8] Wait until LiteLLM is ready",
        "[8/8] Verify the gateway; the master and salt keys must be unchanged",
    ]
    out = result.stdout
    helper = "< modules/litellm/scripts/litellm-upgrade-helper.sh"
    ssh = '$ ssh -- tappaas@litellm.srvwork.internal \'sudo -n bash -c "$(cat)" ' + (
        "litellm-upgrade-helper"
    )
    for call in ("state'", "stop'", "backup'", "start'", "check-dump /var/backup/postgresql/"):
        assert f"{ssh} {call}" in out, call
    assert helper in out
    assert (
        "$ nix-prefetch-docker --json --quiet --os linux --arch amd64 "
        "--image-name ghcr.io/berriai/litellm-database --image-tag v1.90.0" in out
    )
    assert "nixos-rebuild switch --flake '.#litellm' --target-host " in out
    # the way back is part of the plan, with its restore decision
    assert "restore when the schema migrations differ" in out
    assert f"{ssh} restore-dump " in out
    assert f"{ssh} switch-generation GENERATION switch'" in out
    assert f"{ssh} drop-generation FAILED_GENERATION'" in out
    assert out.rstrip().endswith("Dry run complete.")
    assert [line for line in out.splitlines() if line.startswith("[back")] == [
        "[back 1] Stop LiteLLM",
        "[back 2] Restore the pre-upgrade dump if the schema changed",
        "[back 3] Switch back to GENERATION, the one before (when it is no longer current)",
        "[back 4] Start LiteLLM and wait until it is ready",
        "[back 5] Compare keys, generation and schema migrations with step 2's",
    ]
    assert _vm(vm)["calls"] == []
    assert _pin(flake) == OLD_PIN


def test_dry_run_image_plan_with_given_digest_and_hash_shows_them(vm: Path) -> None:
    result = _upgrade("--image", "v1.90.0", "--digest", NEW_DIGEST, "--hash", NEW_SRI, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"new:  ghcr.io/berriai/litellm-database:v1.90.0@{NEW_DIGEST} ({NEW_SRI})" in (
        result.stdout
    )
    assert "nix-prefetch-docker" not in result.stdout
    assert _vm(vm)["calls"] == []


def test_dry_run_postgresql_plan(vm: Path, flake: Path) -> None:
    result = _upgrade("--postgresql", "--dry-run", "--target-host", "admin@10.2.20.15")
    assert result.exit_code == 0, result.output
    steps = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert [s.split("] ", 1)[1] for s in steps[:9]] == [
        "Read the VM's state: generation, keys, PostgreSQL, schema migrations",
        "Stop LiteLLM and take fresh backups (PostgreSQL, Redis, secrets)",
        "Check the dump restores into a scratch database",
        "Let the new PostgreSQL start empty next to the PostgreSQL OLD_MAJOR data",
        "Build and switch litellm (admin@10.2.20.15)",
        "Restore the dump into the new PostgreSQL",
        "Wait until LiteLLM is ready",
        "Verify the gateway; the master and salt keys must be unchanged",
        "Finish: the guard's marker goes, the old data directory stays",
    ]
    out = result.stdout
    ssh = '$ ssh -- admin@10.2.20.15 \'sudo -n bash -c "$(cat)" litellm-upgrade-helper'
    assert f"{ssh} pg-allow-empty OLD_MAJOR /var/backup/postgresql/" in out
    assert f"{ssh} restore-dump /var/backup/postgresql/" in out
    assert f"{ssh} pg-finish'" in out
    assert f"{ssh} pg-set-aside NEW_MAJOR'" in out
    assert "no restore: the old PostgreSQL data directory is not touched" in out
    assert "GET http://10.2.20.15:4000/health/readiness" in out
    assert _vm(vm)["calls"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say what to upgrade: --image TAG (LiteLLM) or --postgresql"),
        (["--image", "v1", "--postgresql"], "--image and --postgresql: one upgrade at a time"),
        (["--image", "v1;touch x"], "--image 'v1;touch x': not an image tag"),
        (["--image", "-oProxyCommand=x"], "not an image tag"),
        (["--image", "v1", "--digest", NEW_DIGEST], "--digest and --hash go together"),
        (["--image", "v1", "--digest", "sha256:12", "--hash", NEW_SRI], "not an image digest"),
        (["--image", "v1", "--digest", NEW_DIGEST, "--hash", "md5-x"], "not a Nix hash"),
        (["--postgresql", "--target-host", "-oProxyCommand=x"], "not [USER@]HOST"),
    ],
)
def test_bad_input_exits_2_and_touches_nothing(vm: Path, flake: Path, args, message) -> None:
    result = _upgrade(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _vm(vm)["calls"] == []
    assert _pin(flake) == OLD_PIN


# ------------------------------------------------------------------ image upgrade
def test_image_upgrade_writes_the_pin_and_keeps_everything(vm: Path, flake: Path, ready, verified):
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 0, result.output
    assert _pin(flake) == OLD_PIN | {
        "finalImageTag": "v1.90.0",
        "imageDigest": NEW_DIGEST,
        "hash": NEW_SRI,
    }
    calls = _vm(vm)["calls"]
    assert _helper_calls(vm) == [
        ["state"],
        ["stop"],
        ["backup"],
        ["check-dump", DUMP],
        ["start"],
        ["state"],
    ]
    helper_calls = [c for c in calls if "args" in c]
    assert all(c["stdin"] == HELPER_TEXT and c["sudo"] for c in helper_calls)
    assert all(c["host"] == "127.0.0.1" for c in helper_calls)
    rebuild = next(c for c in calls if "nixos-rebuild" in c)
    assert rebuild["nixos-rebuild"] == [
        *("switch", "--flake", ".#litellm", "--target-host", "tappaas@127.0.0.1", "--sudo")
    ]
    assert NEW_DIGEST in rebuild["pin"]  # the new pin was in place when the VM was built
    assert "Upgraded litellm to ghcr.io/berriai/litellm-database:v1.90.0" in result.stdout
    assert "40 tables, 1234 rows: the same as the live database; restored in " in result.stdout


def test_failed_verify_after_migrations_restores_before_switching_back(
    vm: Path, flake: Path, ready, verified
):
    state = _vm(vm)
    state["rebuild"]["migrations"] = "4 " + "b" * 64  # the new LiteLLM migrated its schema
    vm.write_text(json.dumps(state))
    verified.append(1)
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1, result.output
    assert _helper_calls(vm) == [
        ["state"], ["stop"], ["backup"], ["check-dump", DUMP], ["start"],
        ["stop"], ["state"], ["restore-dump", DUMP], ["switch-generation", "7", "switch"],
        ["drop-generation", "8"], ["start"], ["state"],
    ]  # fmt: skip
    after = _vm(vm)
    assert after["generation"] == 7
    assert after["migrations"] == "3 " + "a" * 64
    assert _pin(flake) == OLD_PIN  # the repo pins the old image again
    out = result.stdout
    assert "restore: the schema migrations changed (3 before, 4 now)" in out
    assert f"restored {DUMP}" in out
    assert "switched back to generation 7" in out
    assert "deleted the failed generation 8" in out
    assert (
        "master and salt keys unchanged; generation 7 (before: 7); schema migrations as before"
        in out
    )
    assert "failed at step 8/8 and was rolled back" in result.stderr


def test_not_ready_without_schema_change_switches_back_without_restore(
    vm: Path, flake: Path, ready, verified
):
    ready.status = 503
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1, result.output
    calls = _helper_calls(vm)
    assert ["restore-dump", DUMP] not in calls
    assert ["switch-generation", "7", "switch"] in calls
    assert "no restore: the schema migrations are the same as before" in result.stdout
    assert "failed at step 7/8" in result.stderr
    assert _pin(flake) == OLD_PIN


def test_failed_build_leaves_the_generation_and_only_restarts_litellm(
    vm: Path, flake: Path, ready, verified
):
    state = _vm(vm)
    state["rebuild"]["rc"] = 1
    vm.write_text(json.dumps(state))
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1, result.output
    calls = _helper_calls(vm)
    assert not any(c[0] in ("switch-generation", "restore-dump") for c in calls)
    assert calls[-2:] == [["start"], ["state"]]
    assert "generation 7 is still the current one" in result.stdout
    assert _pin(flake) == OLD_PIN


def test_unreadable_migrations_after_failure_restore_the_dump(vm: Path, ready, verified):
    state = _vm(vm)
    state["rebuild"]["migrations"] = "unknown"  # PostgreSQL no longer answers to the helper
    vm.write_text(json.dumps(state))
    verified.append(1)
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1
    calls = _helper_calls(vm)
    assert calls.index(["restore-dump", DUMP]) < calls.index(["switch-generation", "7", "switch"])
    assert "restore: the schema migrations cannot be read now" in result.stdout


def test_changed_keys_fail_the_upgrade(vm: Path, ready, verified):
    state = _vm(vm)
    state["rebuild"]["keys"] = "x" * 64
    vm.write_text(json.dumps(state))
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1
    assert "the master or salt key on the VM changed during the upgrade" in result.stdout
    assert "master and salt keys CHANGED" in result.stdout


def test_failing_backup_stops_before_the_switch_and_starts_litellm_again(
    vm: Path, flake: Path, ready, verified
):
    state = _vm(vm)
    state["fail"]["backup"] = {"rc": 1, "stderr": "litellm-upgrade-helper: a backup unit failed"}
    vm.write_text(json.dumps(state))
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1
    assert not any("nixos-rebuild" in c for c in _vm(vm)["calls"])
    assert _helper_calls(vm)[-2:] == [["start"], ["state"]]
    assert "a backup unit failed" in result.stdout
    assert _pin(flake) == OLD_PIN


def test_a_vm_without_answering_postgresql_is_not_touched(vm: Path, ready, verified):
    state = _vm(vm)
    state["migrations"] = "unknown"
    state["pg_major"] = ""
    vm.write_text(json.dumps(state))
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 1
    assert "PostgreSQL does not answer" in result.stderr
    assert _helper_calls(vm) == [["state"]]


def test_values_reach_the_helper_as_single_words(vm: Path, ready, verified):
    """A dump path with quotes and $(...) arrives unchanged as one argument."""
    state = _vm(vm)
    odd = "/var/backup/postgresql/it's $(touch x) `y`.dump"
    state["dump"] = odd
    vm.write_text(json.dumps(state))
    result = _live(ready, "--image", "v1.90.0")
    assert result.exit_code == 0, result.output
    assert ["check-dump", odd] in _helper_calls(vm)


# ------------------------------------------------------------------ image.json and prefetch
def test_prefetch_failure_writes_nothing_and_says_what_to_run(vm: Path, flake: Path, monkeypatch):
    monkeypatch.setenv("PREFETCH_RC", "1")
    monkeypatch.setenv("PREFETCH_OUT", "")
    result = _upgrade("--image", "v1.90.0")
    assert result.exit_code == 1
    assert "nix-prefetch-docker could not fetch ghcr.io/berriai/litellm-database:v1.90.0" in (
        result.stderr
    )
    assert "--digest <imageDigest> --hash" in result.stderr
    assert _pin(flake) == OLD_PIN
    assert _vm(vm)["calls"] == []


def test_prefetch_without_a_hash_writes_nothing(vm: Path, flake: Path, monkeypatch):
    monkeypatch.setenv("PREFETCH_OUT", json.dumps({"imageDigest": NEW_DIGEST}))
    result = _upgrade("--image", "v1.90.0")
    assert result.exit_code == 1
    assert "no usable digest and hash" in result.stderr
    assert _pin(flake) == OLD_PIN
    assert _vm(vm)["calls"] == []


def test_offline_without_nix_prefetch_docker(vm: Path, flake: Path, tmp_path, monkeypatch):
    (tmp_path / "bin" / "nix-prefetch-docker").unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = _upgrade("--image", "v1.90.0")
    assert result.exit_code == 127
    assert "nix-prefetch-docker not found" in result.stderr
    assert (
        "nix-prefetch-docker --json --quiet --os linux --arch amd64 --image-name "
        "ghcr.io/berriai/litellm-database --image-tag v1.90.0" in result.stderr
    )
    assert _pin(flake) == OLD_PIN


def test_same_digest_is_nothing_to_do(vm: Path, flake: Path, monkeypatch):
    monkeypatch.setenv(
        "PREFETCH_OUT", json.dumps({"imageDigest": OLD_PIN["imageDigest"], "hash": OLD_PIN["hash"]})
    )
    result = _upgrade("--image", "v1.89.3")
    assert result.exit_code == 0
    assert "already pins this image; nothing to upgrade" in result.stdout
    assert _vm(vm)["calls"] == []


def test_write_pin_is_both_fields_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "image.json"
    path.write_text(json.dumps(OLD_PIN))
    bad = ImagePin(OLD_PIN["imageName"], "v2", NEW_DIGEST, "sha256-short=")
    with pytest.raises(InputError):
        write_pin(path, bad)
    assert json.loads(path.read_text()) == OLD_PIN
    good = ImagePin(OLD_PIN["imageName"], "v2", NEW_DIGEST, NEW_SRI)
    write_pin(path, good)
    assert read_pin(path) == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.json"]  # no temporary left


def test_write_pin_keeps_the_old_file_when_the_rename_fails(tmp_path: Path, monkeypatch):
    path = tmp_path / "image.json"
    path.write_text(json.dumps(OLD_PIN))

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("tappaas_litellm.admin.image_pin.os.replace", broken_replace)
    with pytest.raises(OSError):
        write_pin(path, ImagePin(OLD_PIN["imageName"], "v2", NEW_DIGEST, NEW_SRI))
    assert json.loads(path.read_text()) == OLD_PIN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.json"]


def _nix_to_base32(hex_digest: str) -> str:
    """Nix's own base32 of a SHA-256: `nix hash convert` (Nix >= 2.19), else `to-base32`."""
    nix = shutil.which("nix")
    assert nix, "nix is needed (Debian package nix-bin)"
    flags = ["--extra-experimental-features", "nix-command"]
    for command in (
        ["hash", "convert", "--hash-algo", "sha256", "--to", "nix32", hex_digest],
        ["hash", "to-base32", "--type", "sha256", hex_digest],
    ):
        result = subprocess.run(
            [nix, *flags, *command], capture_output=True, text=True, check=False, timeout=30
        )
        if result.returncode == 0:
            return result.stdout.strip()
    raise AssertionError(f"nix cannot convert a hash: {result.stderr}")


def test_nix_base32_matches_nix(tmp_path: Path) -> None:
    for data in (b"", b"litellm", bytes(range(256))):
        digest = hashlib.sha256(data).digest()
        out = _nix_to_base32(digest.hex())
        assert len(out) == 52, out
        assert nix_base32_to_sri(out) == "sha256-" + base64.b64encode(digest).decode()
        assert check_hash(out) == check_hash("sha256:" + out)
    assert check_hash(OLD_PIN["hash"]) == OLD_PIN["hash"]


def test_parse_prefetch_output_takes_both_forms() -> None:
    b32 = _nix32(NEW_HASH_RAW)
    assert parse_prefetch_output(json.dumps({"imageDigest": NEW_DIGEST, "sha256": b32})) == (
        NEW_DIGEST,
        NEW_SRI,
    )
    assert parse_prefetch_output(json.dumps({"imageDigest": NEW_DIGEST, "hash": NEW_SRI}))[1] == (
        NEW_SRI
    )
    with pytest.raises(ValueError):
        parse_prefetch_output(json.dumps({"imageDigest": "latest", "hash": NEW_SRI}))


# ------------------------------------------------------------------ PostgreSQL major
def test_postgresql_upgrade_restores_into_the_new_version(vm: Path, ready, verified):
    state = _vm(vm)
    state["rebuild"]["pg_major"] = "18"
    state["rebuild"]["migrations"] = "none"  # the new cluster starts empty
    vm.write_text(json.dumps(state))
    result = _live(ready, "--postgresql")
    assert result.exit_code == 0, result.output
    assert _helper_calls(vm) == [
        ["state"], ["stop"], ["backup"], ["check-dump", DUMP], ["pg-allow-empty", "17", DUMP],
        ["state"], ["restore-dump", DUMP], ["start"], ["state"], ["pg-finish"],
    ]  # fmt: skip
    assert "PostgreSQL 17 -> 18" in result.stdout
    assert "The old data directory /var/lib/postgresql/17 is kept" in result.stdout


def test_postgresql_upgrade_without_a_new_package_rolls_back(vm: Path, ready, verified):
    result = _live(ready, "--postgresql")
    assert result.exit_code == 1
    assert "PostgreSQL is still 17 after the switch" in result.stdout
    calls = _helper_calls(vm)
    assert ["restore-dump", DUMP] not in calls
    assert calls[calls.index(["stop"], 2) :] == [
        ["stop"], ["state"], ["switch-generation", "7", "switch"], ["drop-generation", "8"],
        ["pg-finish"], ["start"], ["state"],
    ]  # fmt: skip


def test_postgresql_upgrade_failing_later_sets_the_new_cluster_aside(vm: Path, ready, verified):
    state = _vm(vm)
    state["rebuild"]["pg_major"] = "18"
    vm.write_text(json.dumps(state))
    verified.append(1)
    result = _live(ready, "--postgresql")
    assert result.exit_code == 1
    calls = _helper_calls(vm)
    assert ["restore-dump", DUMP] in calls  # into the new version, forward
    tail = calls[calls.index(["stop"], 2) :]
    assert tail == [
        ["stop"], ["state"], ["switch-generation", "7", "switch"], ["drop-generation", "8"],
        ["pg-finish"], ["pg-set-aside", "18"], ["start"], ["state"],
    ]  # fmt: skip
    assert _vm(vm)["pg_major"] == "17"
    assert "no restore: the PostgreSQL 17 data directory was not touched" in result.stdout


# ------------------------------------------------------------------ the decision itself
def _state(migrations: str, major: str = "17") -> VmState:
    return VmState("7", "k", major, migrations, "active")


@pytest.mark.parametrize(
    ("kind", "now", "restore"),
    [
        ("image", _state("3 a"), False),
        ("image", _state("4 b"), True),
        ("image", _state("3 c"), True),  # same count, a migration changed (P3009 half-way)
        ("image", _state("unknown"), True),
        ("image", None, True),
        ("postgresql", _state("none", "18"), False),
    ],
)
def test_needs_restore(kind: str, now: VmState | None, restore: bool) -> None:
    assert needs_restore(kind, _state("3 a"), now)[0] is restore


def test_shell_quoting_of_the_shown_commands_is_runnable() -> None:
    """The printed helper call is one shell line an admin can paste."""
    from tappaas_litellm.admin.upgrade_helper import Remote

    remote = Remote(transport=None, helper_source="", shown="tappaas@h")  # type: ignore[arg-type]
    line = remote.display("check-dump", "/x/it's.dump")
    words = shlex.split(line.split(" < ")[0])
    assert words[:3] == ["ssh", "--", "tappaas@h"]
    assert shlex.split(words[3])[-2:] == ["check-dump", "/x/it's.dump"]


# ------------------------------------------------------------ the engine as the VM test uses it
class _DriverLikeTransport:
    """Answers helper calls as the test driver's transport would (root, no ssh)."""

    description = "machine vm"
    has_systemd = True

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.generation = 2

    def run(self, command: str, *, timeout: float = 30, stdin: str | None = None, root=False):
        from tappaas_litellm.verify.transport import CommandResult

        assert stdin == HELPER_TEXT
        args = shlex.split(command.split("litellm-upgrade-helper", 1)[1])
        self.calls.append(args)
        if args[0] == "state":
            return CommandResult(0, f"generation={self.generation}\nkeys=k\npg_major=17\n"
                                 "migrations=3 a\nservice=active\n", "")  # fmt: skip
        if args[0] == "backup":
            return CommandResult(0, f"dump={DUMP}\n", "")
        if args[0] == "switch-generation":
            self.generation = int(args[1])
        return CommandResult(0, "", "")


def test_engine_with_injected_actions_rolls_back_with_the_given_activation() -> None:
    from tappaas_litellm.admin.upgrade import Action, Upgrade
    from tappaas_litellm.admin.upgrade_helper import Remote

    transport = _DriverLikeTransport()
    said: list[str] = []

    def switch() -> None:
        transport.generation = 3

    def never_ready() -> None:
        raise StepError("not ready")

    engine = Upgrade(
        name="litellm",
        kind="image",
        remote=Remote(transport, HELPER_TEXT, "machine"),  # type: ignore[arg-type]
        switch=Action("switch to next", switch),
        wait=Action("wait", never_ready),
        verify=Action("verify", lambda: None),
        activation="test",
        say=said.append,
    )
    with pytest.raises(StepError, match="failed at step 5/6 and was rolled back"):
        engine.run()
    assert transport.calls == [
        ["state"], ["stop"], ["backup"], ["check-dump", DUMP], ["start"],
        ["stop"], ["state"], ["switch-generation", "2", "test"], ["drop-generation", "3"],
        ["start"], ["state"],
    ]  # fmt: skip
    assert "switched back to generation 2" in engine.report
    assert "[1/6] Read the VM's state: generation, keys, PostgreSQL, schema migrations" in said
