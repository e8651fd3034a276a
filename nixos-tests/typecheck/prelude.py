# Names the NixOS test driver gives every test script (nixos-25.11,
# nixos/lib/test-script-prepend.py declares them the same way for the mypy
# check of the Nix build); check.py adds one `<node>: Machine` per node.
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from test_driver.driver import Driver
from test_driver.logger import Logger
from test_driver.machine import Machine
from test_driver.vlan import VLan


class RetryProtocol(Protocol):
    def __call__(self, fn: Callable, timeout: int = 900) -> None: ...


class PollingConditionProtocol(Protocol):
    def __call__(
        self,
        fun_: Callable | None = None,
        *,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> Callable[[Callable], AbstractContextManager] | AbstractContextManager: ...


class CreateMachineProtocol(Protocol):
    def __call__(
        self,
        start_command: str | dict,
        *,
        name: str | None = None,
        keep_vm_state: bool = False,
    ) -> Machine: ...


start_all: Callable[[], None]
subtest: Callable[[str], AbstractContextManager[None]]
retry: RetryProtocol
test_script: Callable[[], None]
machines: list[Machine]
vlans: list[VLan]
driver: Driver
log: Logger
create_machine: CreateMachineProtocol
run_tests: Callable[[], None]
join_all: Callable[[], None]
serial_stdout_off: Callable[[], None]
serial_stdout_on: Callable[[], None]
polling_condition: PollingConditionProtocol
