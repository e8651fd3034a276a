"""The outcome of one check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CheckResult:
    """Status, a one-line reason, the evidence behind it and what to look at next."""

    name: str
    status: Status
    reason: str
    evidence: str = ""
    hint: str = ""
    title: str = ""
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    @property
    def skipped(self) -> bool:
        return self.status is Status.SKIP

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["duration"] = round(self.duration, 3)
        return data

    def redacted(self, secrets: set[str]) -> CheckResult:
        """A copy with every secret value replaced by ``***``."""
        if not secrets:
            return self

        def clean(text: str) -> str:
            for secret in sorted(secrets, key=len, reverse=True):
                text = text.replace(secret, "***")
            return text

        return replace(
            self, reason=clean(self.reason), evidence=clean(self.evidence), hint=clean(self.hint)
        )


def passed(reason: str, evidence: str = "") -> CheckResult:
    return CheckResult("", Status.PASS, reason, evidence)


def failed(reason: str, hint: str = "", evidence: str = "") -> CheckResult:
    return CheckResult("", Status.FAIL, reason, evidence, hint)


def skipped(reason: str, evidence: str = "") -> CheckResult:
    return CheckResult("", Status.SKIP, reason, evidence)


class CheckFailedError(Exception):
    """Raised inside a check to end it with *fail*."""

    def __init__(self, reason: str, hint: str = "", evidence: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.evidence = evidence


class CheckSkippedError(Exception):
    """Raised inside a check to end it with *skip*."""

    def __init__(self, reason: str, evidence: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence
