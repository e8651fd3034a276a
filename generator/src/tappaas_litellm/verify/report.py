"""Showing results: coloured lines, a summary, JSON and JUnit XML files."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from tappaas_litellm.verify.guide import guide_note
from tappaas_litellm.verify.result import CheckResult, Status

_COLOURS = {Status.PASS: "green", Status.FAIL: "red", Status.SKIP: "yellow"}
NAME_WIDTH = 16


def format_result(result: CheckResult, *, verbose: bool = False) -> str:
    """``PASS  name  reason`` (+ hint on failure, + evidence when verbose), styled."""
    label = click.style(f"{result.status.value.upper():<4}", fg=_COLOURS[result.status], bold=True)
    lines = [f"{label}  {result.name:<{NAME_WIDTH}} {result.reason}"]
    indent = " " * 6
    if result.failed and result.hint:
        lines.append(indent + click.style("next: ", bold=True) + result.hint)
    note = guide_note(result.name)
    if note:
        lines.append(indent + click.style("guide: ", dim=True) + note)
    if result.evidence and (verbose or result.failed):
        shown = result.evidence.strip().splitlines()
        if not verbose and len(shown) > 8:
            shown = [*shown[:8], f"... ({len(shown) - 8} more lines; --verbose or --json)"]
        lines += [indent + click.style("| ", dim=True) + line for line in shown]
    return "\n".join(lines)


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    return {status.value: sum(r.status is status for r in results) for status in Status}


def format_summary(results: Sequence[CheckResult], where: str) -> str:
    total = counts(results)
    text = (
        f"{total['pass']} passed, {total['fail']} failed, {total['skip']} skipped "
        f"({len(results)} checks on {where})"
    )
    colour = "red" if total["fail"] else "green"
    return click.style(text, fg=colour, bold=True)


def to_json(results: Sequence[CheckResult], where: str) -> dict[str, Any]:
    return {
        "target": where,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok": not any(r.failed for r in results),
        "summary": counts(results),
        "checks": [r.to_dict() for r in results],
    }


def write_json(path: str | Path, results: Sequence[CheckResult], where: str) -> None:
    Path(path).write_text(json.dumps(to_json(results, where), indent=2) + "\n")


def to_junit(results: Sequence[CheckResult], where: str) -> str:
    total = counts(results)
    suite = ET.Element(
        "testsuite",
        {
            "name": "tappaas-litellm-verify",
            "tests": str(len(results)),
            "failures": str(total["fail"]),
            "errors": "0",
            "skipped": str(total["skip"]),
            "time": f"{sum(r.duration for r in results):.3f}",
            "hostname": where,
        },
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": "tappaas-litellm.verify",
                "name": result.name,
                "time": f"{result.duration:.3f}",
            },
        )
        if result.failed:
            failure = ET.SubElement(case, "failure", {"message": result.reason})
            failure.text = "\n".join(
                part
                for part in (
                    result.reason,
                    f"next: {result.hint}" if result.hint else "",
                    result.evidence,
                )
                if part
            )
        elif result.skipped:
            ET.SubElement(case, "skipped", {"message": result.reason})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(part for part in (result.reason, result.evidence) if part)
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def write_junit(path: str | Path, results: Sequence[CheckResult], where: str) -> None:
    Path(path).write_text(to_junit(results, where) + "\n")
