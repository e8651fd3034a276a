"""Module files of the scale-out layout: a datastore and its gateways."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from genhelpers import DATASTORE_SAMPLE, GATEWAY_SAMPLE, nested_to_flat, write_json
from tappaas_litellm.cli import main
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.module_file import parse_module
from tappaas_litellm.hostfile.scale_out import Datastore, GatewayEntry, GatewayOf
from tappaas_litellm.hostfile.zones import load_zones

ZONES = load_zones()


def _datastore() -> dict[str, Any]:
    return json.loads(DATASTORE_SAMPLE.read_text())


def _gateway() -> dict[str, Any]:
    return json.loads(GATEWAY_SAMPLE.read_text())


def _parse(data: dict[str, Any]):
    name = str(data.get("vmname", "x"))
    return parse_module(json.dumps(data), ZONES, display=f"{name}.json", default_name=name)[0]


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InputError) as info:
        _parse(data)
    return info.value.problems


def _gateways(data: dict[str, Any]) -> list[Any]:
    return data["config"]["firewall:rules"]["datastoreGateways"]


def test_datastore_sample() -> None:
    spec = _parse(_datastore())
    assert spec.role == Datastore(
        address="10.2.20.20",
        gateways=(
            GatewayEntry("litellm1", "10.2.20.21", 4),
            GatewayEntry("litellm2", "10.2.20.22", 4),
        ),
    )


def test_gateway_sample_and_a_plain_vm() -> None:
    assert _parse(_gateway()).role == GatewayOf("litellm-db")
    plain = _gateway()
    plain["dependsOn"].remove("litellm-db:datastore")
    assert _parse(plain).role is None


def test_both_shapes_give_the_same_datastore() -> None:
    assert _parse(nested_to_flat(_datastore())) == _parse(_datastore())


def test_gateways_are_ordered_by_name() -> None:
    data = _datastore()
    _gateways(data).reverse()
    assert _parse(data) == _parse(_datastore())


def test_datastore_needs_its_address_and_gateways() -> None:
    data = _datastore()
    del data["config"]["firewall:dns"]
    del data["config"]["firewall:rules"]["datastoreGateways"]
    assert _problems(data) == [
        'litellm-db.json: .config."firewall:dns".ip: missing; allowed: the datastore\'s static '
        'IPv4 address in its zone, which PostgreSQL and Redis listen on, e.g. "10.2.20.20"',
        "litellm-db.json: .datastoreGateways: missing; allowed: a non-empty list of "
        '{"vmname", "ip", "workers"} objects, one per gateway',
    ]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("litellm1", "is not an object"),
        ({"vmname": "-bad", "ip": "10.2.20.21", "workers": 4}, '[0].vmname: "-bad" is not'),
        ({"vmname": "gw", "ip": "10.2.20.300", "workers": 4}, '[0].ip: "10.2.20.300" is not an'),
        ({"vmname": "gw", "ip": "10.2.20.21/32", "workers": 4}, "is not an IPv4 address"),
        ({"vmname": "gw", "ip": "10.2.20.21", "workers": 0}, "[0].workers: 0 is not a worker"),
        ({"vmname": "gw", "ip": "10.2.20.21", "workers": True}, "true is not a worker count"),
        ({"vmname": "gw", "ip": "10.2.20.21", "workers": 4, "cores": 4}, "unknown key(s) cores"),
    ],
)
def test_bad_gateway_entry(entry: object, words: str) -> None:
    data = _datastore()
    _gateways(data)[0] = entry
    problems = _problems(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        'litellm-db.json: .config."firewall:rules".datastoreGateways[0]'
    ), problems
    assert words in problems[0], problems
    assert "allowed:" in problems[0]


def test_duplicate_gateways_and_own_address() -> None:
    data = _datastore()
    _gateways(data)[1] = dict(_gateways(data)[0])
    _gateways(data).append({"vmname": "litellm3", "ip": "10.2.20.20", "workers": 2})
    problems = _problems(data)
    assert [p.split("; ")[0].split("datastoreGateways: ")[1] for p in problems] == [
        'vmname "litellm1" appears twice',
        'ip "10.2.20.21" appears twice',
        "a gateway has the datastore's own address 10.2.20.20",
    ]


def test_role_conflicts_are_one_line_each() -> None:
    data = _datastore()
    data["dependsOn"] += ["a:datastore", "b:datastore"]
    assert _problems(data) == [
        "litellm-db.json: .dependsOn: a datastore cannot itself use a datastore; allowed: either "
        '"provides": ["datastore"] or a "<datastore VM>:datastore" dependency',
        'litellm-db.json: .dependsOn: 2 datastores (a, b); allowed: one "<datastore VM>:datastore"'
        " entry",
    ]
    gateway = _gateway()
    gateway["dependsOn"].append("litellm1:datastore")
    gateway["datastoreGateways"] = []
    assert _problems(gateway) == [
        "litellm1.json: .dependsOn: 2 datastores (litellm-db, litellm1); allowed: one "
        '"<datastore VM>:datastore" entry',
        "litellm1.json: .dependsOn: the VM names itself as its datastore; allowed: another VM's "
        "name",
        "litellm1.json: .datastoreGateways: only a datastore lists gateways; allowed: add "
        '"datastore" to .provides, or remove this field',
    ]


def test_generate_writes_both_kinds_and_refuses_a_bad_one(
    flake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(flake)
    write_json(flake / "litellm-db.json", _datastore())
    write_json(flake / "litellm1.json", _gateway())
    runner = CliRunner()
    outputs: list[str] = []
    for name in ("litellm-db", "litellm1"):
        result = runner.invoke(main, ["generate", name], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert (flake / "site" / "hosts" / name / "default.nix").is_file()
        outputs.append(result.output)
    assert (
        "role: datastore on 10.2.20.20 for litellm1 (10.2.20.21, 4 workers), litellm2 "
        "(10.2.20.22, 4 workers); their workers may open 80 database connections"
    ) in outputs[0]
    assert "role: gateway of the datastore litellm-db (PostgreSQL and Redis at " in outputs[1]
    text = (flake / "site" / "hosts" / "litellm-db" / "default.nix").read_text()
    bad = copy.deepcopy(_datastore())
    _gateways(bad)[0]["workers"] = "four"
    write_json(flake / "litellm-db.json", bad)
    result = runner.invoke(main, ["generate", "litellm-db"], catch_exceptions=False)
    assert result.exit_code == 2
    assert 'datastoreGateways[0].workers: "four" is not a worker count' in result.output
    assert "Traceback" not in result.output
    assert (flake / "site" / "hosts" / "litellm-db" / "default.nix").read_text() == text
