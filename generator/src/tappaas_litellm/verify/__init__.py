"""Verify a deployed TAPPaaS LiteLLM gateway: one check library for CI, VM tests and admins.

from tappaas_litellm.verify import SSHTransport, Target, run_checks
for result in run_checks(SSHTransport("litellm.srv.internal")):
    print(result.status, result.name, result.reason)
"""

from tappaas_litellm.verify.checks import (
    CHECKS,
    assert_passed,
    check_names,
    run_checks,
    select_checks,
    summary_text,
)
from tappaas_litellm.verify.context import Context, HttpResponse
from tappaas_litellm.verify.registry import Check
from tappaas_litellm.verify.result import CheckResult, Status
from tappaas_litellm.verify.target import Target
from tappaas_litellm.verify.transport import (
    CommandResult,
    LocalTransport,
    MachineLike,
    MachineTransport,
    SSHTransport,
    Transport,
)

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "CommandResult",
    "Context",
    "HttpResponse",
    "LocalTransport",
    "MachineLike",
    "MachineTransport",
    "SSHTransport",
    "Status",
    "Target",
    "Transport",
    "assert_passed",
    "check_names",
    "run_checks",
    "select_checks",
    "summary_text",
]
