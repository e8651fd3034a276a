"""nixos-tests/common/network.py, the reachability helpers of the VM tests, run here with a
stand-in for the driver's Machine that runs the very commands on this machine: a TCP connect
to a literal IPv4 or IPv6 address that connects, is refused, or gets no answer in time."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
from nixtools import ROOT

SOURCE = ROOT / "nixos-tests" / "common" / "network.py"


class LocalMachine:
    """The driver's Machine as far as network.py uses it: name, execute, succeed."""

    name = "local"

    def execute(self, command: str, timeout: int | None = 900) -> tuple[int, str]:
        out = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=timeout, check=False
        )
        return out.returncode, out.stdout + out.stderr

    def succeed(self, command: str) -> str:
        status, output = self.execute(command)
        assert status == 0, output
        return output


@pytest.fixture(scope="module")
def network() -> dict:
    names: dict = {"Machine": LocalMachine}
    exec(compile(SOURCE.read_text(), str(SOURCE), "exec"), names)
    return names


@pytest.fixture(params=[(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def listening(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    family, address = request.param
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(8)
    yield address, server.getsockname()[1]
    server.close()


def test_connected_and_refused_in_each_family(network: dict, listening: tuple[str, int]) -> None:
    address, port = listening
    connect = network["connect"]
    assert connect(LocalMachine(), address, port) == network["CONNECTED"]
    # Another port of the same address: nothing listens there, the kernel answers at once.
    spare = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    spare.bind((address, 0))
    free = spare.getsockname()[1]
    spare.close()
    assert connect(LocalMachine(), address, free) == network["REFUSED"]


def test_no_answer_is_dropped(network: dict) -> None:
    # A connect that never completes: `timeout` ends it with status 124, as when the
    # firewall drops the SYN. (A sleeping stand-in for bash's connect.)
    class Silent(LocalMachine):
        def execute(self, command: str, timeout: int | None = 900) -> tuple[int, str]:
            assert command.startswith("timeout 1 bash -c '</dev/tcp/192.0.2.1/5432'"), command
            return super().execute("timeout 1 sleep 5")

    assert network["connect"](Silent(), "192.0.2.1", 5432, seconds=1) == network["DROPPED"]


def test_address_reads_one_address_of_the_family(network: dict) -> None:
    class Eth1(LocalMachine):
        def succeed(self, command: str) -> str:
            assert command.startswith("ip -6 -o addr show dev eth1 scope global"), command
            return "2001:db8:1::3\n"

    assert network["address"](Eth1(), 6) == "2001:db8:1::3"
