"""Helpers for the tappaas-litellm tool's tests (imported by conftest and the tests)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from tappaas_litellm.cli import main
from tappaas_litellm.common import process
from tappaas_litellm.hostfile import bundled
from tappaas_litellm.hostfile.zones import ZoneTable

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLDEN = HERE / "golden"
FLAT_SAMPLE = DATA / "litellm.flat-2026-02.json"
NESTED_SAMPLE = DATA / "litellm.nested-2026-06.json"
DATASTORE_SAMPLE = DATA / "litellm-db.datastore.json"
GATEWAY_SAMPLE = DATA / "litellm1.gateway.json"

NIX_INSTANTIATE = shutil.which("nix-instantiate")


def nix_eval(source: str, tmp_path: Path, name: str = "expr.nix") -> Any:
    """Evaluate a Nix file strictly with Debian's nix-instantiate and return its JSON value."""
    assert NIX_INSTANTIATE, "nix-instantiate is needed (Debian package nix-bin)"
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    result = subprocess.run(
        [NIX_INSTANTIATE, "--eval", "--strict", "--json", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def nix_parse(path: Path) -> str:
    assert NIX_INSTANTIATE, "nix-instantiate is needed (Debian package nix-bin)"
    result = subprocess.run(
        [NIX_INSTANTIATE, "--parse", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{path} does not parse:\n{result.stderr}"
    return result.stdout


@dataclass
class Call:
    argv: list[str]
    cwd: Path | None
    env: dict[str, str]
    capture: bool
    input: str | None = None


@dataclass
class RecordingRunner(process.Runner):
    """Records every command; answers from `responses` (argv[0] -> (status, stdout, stderr))."""

    responses: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    on_call: Callable[[Call], None] | None = None

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        capture: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        call = Call(list(argv), cwd, dict(env or {}), capture, input)
        self.calls.append(call)
        if self.on_call:
            self.on_call(call)
        status, out, err = self.responses.get(argv[0], (0, "", ""))
        return subprocess.CompletedProcess(list(argv), status, out, err)


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def nested_to_flat(data: dict[str, Any]) -> dict[str, Any]:
    """The flat shape of a nested module file (what TAPPaaS's module-format.sh to-flat does)."""
    flat = {k: v for k, v in data.items() if k != "config"}
    for block in data.get("config", {}).values():
        flat.update(block)
    return flat


def stand_in(folder: Path, name: str, source: str) -> Path:
    """Write the executable Python program `folder/name` from `source`.

    Its interpreter is this test's own Python: the Nix build sandbox has no /usr/bin/env,
    and bash is not one of the package's check inputs."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(source), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_with(folder: Path) -> str:
    """PATH with `folder` in front of the current one."""
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def run_cli(*args: str) -> Result:
    """`tappaas-litellm ARGS` in this process; an exception other than SystemExit is re-raised,
    so a traceback the user would see fails the test."""
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def shown_commands(output: str) -> list[str]:
    """The commands a plan shows (`$ ...` lines)."""
    return [line.strip()[2:] for line in output.splitlines() if line.strip().startswith("$ ")]


def shown_steps(output: str) -> list[str]:
    """The step headers of a plan (`[n/N] ...` lines)."""
    return [line for line in output.splitlines() if line.startswith("[")]


def zones_with_active(folder: Path, *names: str) -> Path:
    """A copy of TAPPaaS's zones.json with the zones `names` made Active (the 2026-02 sample
    module file lives in `srv`, Inactive in today's zones.json)."""
    data = bundled.read_json("data/zones.json")
    for name in names:
        data[name]["state"] = "Active"
    return write_json(folder / "zones.json", data)


def table_with_active(table: ZoneTable, *names: str) -> ZoneTable:
    """`table` with the zones `names` made Active."""
    zones = dict(table.zones)
    for name in names:
        zones[name] = dataclasses.replace(zones[name], state="Active")
    return ZoneTable(zones=zones, source=table.source)


class RecordingListener:
    """A TCP listener on loopback that records every byte clients send and answers each
    chunk with `reply` (e.g. an HTTP 502, or a Redis error), until the client closes.

    close() stops the thread before it closes the socket: a thread still blocked in accept()
    on a closed descriptor would serve whatever socket reuses that number later (it once
    answered the test stack's upstream connections with this listener's 502)."""

    POLL = 0.1  # seconds between looks at the stop switch

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(self.POLL)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(self.POLL)
                self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += data
            try:
                conn.sendall(self.reply)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)
        self.sock.close()
