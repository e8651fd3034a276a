"""Hostile module files: deep nesting, huge numbers, huge files; one line each, nothing written.

The property tests throw arbitrary numbers and JSON values at every bounded field: the tool
either accepts a value inside the bounds the whole chain takes (Nix, Proxmox, PostgreSQL,
Redis) or refuses it with one line, and never raises anything else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from genhelpers import NESTED_SAMPLE, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.module_fields import (
    CORES_MAX,
    CORES_MIN,
    DISK_MAX_MIB,
    MAX_DEPTH,
    MEMORY_MAX_MIB,
    MEMORY_MIN_MIB,
    VMID_MAX,
    VMID_MIN,
)
from tappaas_litellm.hostfile.module_file import parse_module
from tappaas_litellm.hostfile.zones import load_zones

ZONES = load_zones()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NIX_INT_MAX = 2**63 - 1


def _nested() -> dict[str, Any]:
    return json.loads(NESTED_SAMPLE.read_text())


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _generate(flake: Path, text: str) -> tuple[int, str, list[str]]:
    (flake / "litellm.json").write_text(text)
    result = run_cli("generate", "litellm", "--config", str(flake / "litellm.json"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return result.exit_code, result.stderr, errors


def _deep(levels: int) -> str:
    return '{"vmname": "litellm", "vmid": 310, "x": ' + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize("levels", [2_000, 100_000])
def test_a_deeply_nested_file_is_one_line_not_a_traceback(flake: Path, levels: int) -> None:
    before = _snapshot(flake / "hosts")
    status, err, errors = _generate(flake, _deep(levels))
    assert status == 2
    assert "Traceback" not in err and "RecursionError" not in err
    assert len(errors) == 1 and f"nested more than {MAX_DEPTH} levels deep" in errors[0]
    assert _snapshot(flake / "hosts") == before


def test_nesting_within_the_bound_is_read() -> None:
    parse_module(_deep(MAX_DEPTH - 1), ZONES, display="x.json", default_name="x")
    with pytest.raises(InputError, match="nested more than"):
        parse_module(_deep(MAX_DEPTH), ZONES, display="x.json", default_name="x")


def test_a_deeply_nested_zones_file_is_one_line(flake: Path, tmp_path: Path) -> None:
    zones = tmp_path / "zones.json"
    zones.write_text("[" * 5_000 + "]" * 5_000)
    config = str(flake / "litellm.json")
    result = run_cli("generate", "litellm", "--config", config, "--zones", str(zones))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "nested too deeply" in errors[0]


def test_a_huge_file_is_refused_unread(flake: Path) -> None:
    data = _nested() | {"description": "x" * (2 * 1024 * 1024)}
    status, _, errors = _generate(flake, json.dumps(data))
    assert status == 2 and len(errors) == 1 and "larger than 1024 KiB" in errors[0]
    assert not (flake / "hosts" / "litellm").exists()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("memory", 10**30, "out of range"),
        ("memory", 10**12, "out of range"),
        ("vmid", 5_000_000, "out of range"),
        ("vmid", "1" + "0" * 5000, "out of range"),
        ("cores", 2**64, "out of range"),
        ("diskSize", "99999999999G", "out of range"),
    ],
)
def test_numbers_past_the_chain_are_refused_in_one_line(
    flake: Path, field: str, value: object, words: str
) -> None:
    data = _nested()
    block = data["config"]["cluster:vm"] if field in data["config"]["cluster:vm"] else data
    block[field] = value
    before = _snapshot(flake / "hosts")
    status, err, errors = _generate(flake, json.dumps(data))
    assert status == 2 and len(errors) == 1, err
    assert f".{field}: " in errors[0] and words in errors[0]
    assert "shared_buffers" not in err and _snapshot(flake / "hosts") == before


# Numbers of every size, as JSON numbers, digit strings (TAPPaaS reads both) and floats.
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 99, 100, 511, 512, 128, 129, VMID_MAX, VMID_MAX + 1, 2**63, 2**64]),
)
BOUNDS = {
    "vmid": (VMID_MIN, VMID_MAX),
    "cores": (CORES_MIN, CORES_MAX),
    "memory": (MEMORY_MIN_MIB, MEMORY_MAX_MIB),
}


@FAST
@given(field=st.sampled_from(sorted(BOUNDS)), value=numbers)
def test_every_number_is_inside_the_bounds_or_refused_in_one_line(field: str, value: object):
    data = {"vmname": "litellm", "vmid": 310, "zone0": "srvWork", field: value}
    low, high = BOUNDS[field]
    try:
        spec = parse_module(json.dumps(data), ZONES, display="x.json", default_name="x")[0]
    except InputError as exc:
        assert len(exc.problems) == 1 and exc.problems[0].startswith(f"x.json: .{field}: ")
        return
    got = {"vmid": spec.vmid, "cores": spec.cores, "memory": spec.memory_mib}[field]
    assert low <= got <= high <= NIX_INT_MAX
    assert str(got) == str(value).lstrip("0") or got == value


@FAST
@given(number=st.integers(min_value=0, max_value=2**70), unit=st.sampled_from("GMK"))
def test_every_disk_size_is_inside_the_bounds_or_refused(number: int, unit: str) -> None:
    data = {"vmname": "litellm", "vmid": 310, "zone0": "srvWork", "diskSize": f"{number}{unit}"}
    try:
        spec = parse_module(json.dumps(data), ZONES, display="x.json", default_name="x")[0]
    except InputError as exc:
        assert len(exc.problems) == 1 and exc.problems[0].startswith("x.json: .diskSize: ")
        return
    assert 1 <= spec.disk_size_mib <= DISK_MAX_MIB


# Any JSON value, nested a little or far too deep.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=20,
)


@FAST
@given(
    field=st.sampled_from(["vmid", "memory", "cores", "diskSize", "zone0", "vmname", "appVersion",
                           "proxyPort", "bridge0", "config", "dependsOn", "datastoreGateways"]),
    value=json_values,
    depth=st.integers(min_value=0, max_value=3 * MAX_DEPTH),
)  # fmt: skip
def test_any_value_at_any_depth_is_read_or_refused_in_lines(field: str, value: Any, depth: int):
    for _ in range(depth):
        value = [value]
    data = _nested() | {field: value}
    try:
        parse_module(json.dumps(data), ZONES, display="x.json", default_name="x")
    except InputError as exc:
        assert exc.problems and all("\n" not in line for line in exc.problems)
