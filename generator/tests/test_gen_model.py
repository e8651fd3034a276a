"""Reading module files: both shapes, every bad input, unknown fields, zones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from genhelpers import FLAT_SAMPLE, NESTED_SAMPLE, nested_to_flat, table_with_active, write_json
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.module_file import load_module_file, parse_module
from tappaas_litellm.hostfile.zones import load_zones

ZONES = load_zones()


def _nested() -> dict[str, Any]:
    return json.loads(NESTED_SAMPLE.read_text())


def _parse(data: object, name: str = "litellm"):
    text = data if isinstance(data, str) else json.dumps(data)
    return parse_module(text, ZONES, display=f"{name}.json", default_name=name)


def _problems(data: object) -> list[str]:
    with pytest.raises(InputError) as info:
        _parse(data)
    return info.value.problems


def test_nested_sample() -> None:
    module = load_module_file(NESTED_SAMPLE, ZONES)
    spec = module.spec
    assert (spec.name, spec.vmid, spec.cores, spec.memory_mib, spec.disk_size) == (
        "litellm", 310, 4, 4096, "32G"
    )  # fmt: skip
    assert spec.zone.name == "srvWork" and spec.zone.vlantag == 220
    assert spec.fqdn == "litellm.srvwork.internal"
    assert spec.app_version == "1.85.0"
    assert module.warnings == []
    assert module.fields["proxyPort"] == 4000  # other blocks are flattened and kept


def test_flat_sample() -> None:
    with pytest.raises(InputError, match='zone "srv" is Inactive'):
        load_module_file(FLAT_SAMPLE, ZONES)  # as install-module.sh refuses it
    module = load_module_file(FLAT_SAMPLE, table_with_active(ZONES, "srv"))
    spec = module.spec
    assert (spec.name, spec.vmid, spec.cores, spec.memory_mib) == ("litellm", 310, 4, 4096)
    assert spec.zone.name == "srv" and spec.fqdn == "litellm.srv.internal"
    # The unknown field is kept and reported once; the inactive zone is a warning.
    assert module.fields["author"] == "@ErikDaniel007"
    unknown = [w for w in module.warnings if "unknown field" in w]
    assert len(unknown) == 1 and ".author" in unknown[0]


def test_flat_and_nested_shapes_give_the_same_vm() -> None:
    nested = _nested()
    assert _parse(nested)[0] == _parse(nested_to_flat(nested))[0]


@pytest.mark.parametrize("memory", [4096, "4096"])
def test_memory_as_number_or_string(memory: object) -> None:
    data = nested_to_flat(_nested()) | {"memory": memory}
    assert _parse(data)[0].memory_mib == 4096


def test_defaults_and_vmname_from_file_name() -> None:
    spec, _, _, notes = _parse({"vmid": 400}, name="gateway")
    assert (spec.name, spec.cores, spec.memory_mib, spec.disk_size, spec.zone.name) == (
        "gateway", 2, 4096, "8G", "mgmt"
    )  # fmt: skip
    assert any(".vmname not set" in n for n in notes)
    assert any(".cores not set" in n for n in notes)
    assert spec.bridge == "lan" and any(".bridge0 not set" in n for n in notes)


@pytest.mark.parametrize(
    ("size", "mib"), [("32G", 32768), ("8G", 8192), ("512M", 512), ("2048K", 2), ("1500K", 2)]
)
def test_disk_size_in_mib(size: str, mib: int) -> None:
    spec = _parse({"vmid": 400, "diskSize": size, "bridge0": "vmbr0"})[0]
    assert (spec.disk_size_mib, spec.bridge) == (mib, "vmbr0")


def test_unknown_fields_in_blocks_are_reported_with_their_path() -> None:
    data = _nested()
    data["config"]["cluster:vm"]["gpu"] = "mi300"
    data["colour"] = "blue"
    _, flat, warnings, _ = _parse(data)
    assert flat["gpu"] == "mi300" and flat["colour"] == "blue"
    assert len(warnings) == 1
    assert '.config."cluster:vm".gpu' in warnings[0] and ".colour" in warnings[0]


def _set(path: str, value: object) -> dict[str, Any]:
    data = _nested()
    target = data
    keys = path.split("/")
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


_DELETE = object()

# (change to the nested sample, expected JSON path, expected words in the message)
BAD_FIELDS = [
    ("vmname", "bad_name", ".vmname", "not a DNS label"),
    ("vmname", "-x", ".vmname", "not a DNS label"),
    ("vmname", "a" * 64, ".vmname", "networking.hostName"),
    ("vmname", "litellm-", ".vmname", "not ending with '-'"),
    ("vmname", 7, ".vmname", "not a string"),
    ("vmid", _DELETE, ".vmid", "missing"),
    ("vmid", 99, ".vmid", "out of range"),
    ("vmid", 1_000_000, ".vmid", "out of range"),
    ("vmid", 5_000_000, ".vmid", "out of range"),
    ("vmid", "9" * 5000, ".vmid", "out of range"),
    ("vmid", True, ".vmid", "not a number"),
    ("vmid", 310.5, ".vmid", "not a whole number"),
    ("vmid", "abc", ".vmid", "not a whole number"),
    ("config/cluster:vm/cores", 0, '.config."cluster:vm".cores', "out of range"),
    ("config/cluster:vm/cores", -4, '.config."cluster:vm".cores', "out of range"),
    ("config/cluster:vm/cores", "four", '.config."cluster:vm".cores', "not a whole number"),
    ("config/cluster:vm/memory", "4G", '.config."cluster:vm".memory', "not a whole number"),
    ("config/cluster:vm/memory", 0, '.config."cluster:vm".memory', "too small"),
    ("config/cluster:vm/memory", -1, '.config."cluster:vm".memory', "too small"),
    ("config/cluster:vm/memory", 4096.5, '.config."cluster:vm".memory', "not a whole number"),
    ("config/cluster:vm/diskSize", "32", '.config."cluster:vm".diskSize', "not a disk size"),
    ("config/cluster:vm/diskSize", "32GB", '.config."cluster:vm".diskSize', "not a disk size"),
    ("config/cluster:vm/diskSize", 32, '.config."cluster:vm".diskSize', "not a disk size"),
    ("config/cluster:vm/bridge0", "", '.config."cluster:vm".bridge0', "not a bridge name"),
    ("config/cluster:vm/bridge0", "-lan", '.config."cluster:vm".bridge0', "not a bridge name"),
    ("config/cluster:vm/bridge0", "lan,tag=9", '.config."cluster:vm".bridge0', "not a bridge"),
    ("config/cluster:vm/bridge0", "a" * 16, '.config."cluster:vm".bridge0', "not a bridge"),
    ("config/cluster:vm/bridge0", 0, '.config."cluster:vm".bridge0', "not a bridge name"),
    ("zone0", "atlantis", ".zone0", "not a known zone"),
    ("zone0", "srvwork", ".zone0", 'did you mean "srvWork"'),
    ("zone0", "netbird", ".zone0", "not a known zone"),  # an overlay, not a VLAN zone
    ("zone0", "_README", ".zone0", "not a known zone"),
    ("appVersion", "x" * 201, ".appVersion", "too long"),
    ("appVersion", ["1.85"], ".appVersion", "not a string"),
    ("zone0", "srv", ".zone0", "is Inactive"),
    ("zone0", "iotUntrust", ".zone0", "is Disabled"),
    ("config/cluster:vm/memory", 10**30, '.config."cluster:vm".memory', "out of range"),
    ("config/cluster:vm/memory", 4_194_305, '.config."cluster:vm".memory', "out of range"),
    ("config/cluster:vm/memory", "1" * 4400, '.config."cluster:vm".memory', "out of range"),
    ("config/cluster:vm/cores", 129, '.config."cluster:vm".cores', "out of range"),
    ("config/cluster:vm/diskSize", "0G", '.config."cluster:vm".diskSize', "too small"),
    ("config/cluster:vm/diskSize", "65537G", '.config."cluster:vm".diskSize', "out of range"),
    ("config/cluster:vm/diskSize", "9" * 30 + "G", '.config."cluster:vm".diskSize', "disk size"),
    ("config/firewall:proxy/proxyPort", 8080, '.config."firewall:proxy".proxyPort', "not the port"),
    ("config/firewall:proxy/proxyPort", "x", '.config."firewall:proxy".proxyPort', "whole number"),
]


@pytest.mark.parametrize(("where", "value", "path", "words"), BAD_FIELDS)
def test_bad_field(where: str, value: object, path: str, words: str) -> None:
    problems = _problems(_set(where, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"litellm.json: {path}: ")
    assert words in problems[0]
    assert "; allowed: " in problems[0]


def test_every_problem_is_reported_one_line_each() -> None:
    data = _set("vmid", 5)
    data["vmname"] = "no_pe"
    data["zone0"] = "nowhere"
    problems = _problems(data)
    assert [p.split(": ")[1] for p in problems] == [".vmname", ".vmid", ".zone0"]
    assert all("\n" not in p for p in problems)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"vmid": 310,', "malformed JSON"),
        ("", "malformed JSON"),
        ('{"vmid": NaN}', "malformed JSON"),
        ("[1, 2]", "not an object"),
        ('"litellm"', "not an object"),
        ('{"vmid": 310, "vmid": 311}', "appears twice"),
    ],
)
def test_malformed_json(text: str, words: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1 and words in problems[0]
    assert problems[0].startswith("litellm.json")


def test_malformed_json_names_line_and_column() -> None:
    (problem,) = _problems('{\n  "vmid": 310\n  "vmname": "x"\n}')
    assert problem.startswith("litellm.json:3:3: malformed JSON")


def test_config_rules() -> None:
    data = _nested()
    data["config"]["cluster:vm"]["vmid"] = 311  # also at the top level
    data["config"]["backup:vm"] = {"x": 1}
    data["config"]["bad key"] = {}
    data["dependsOn"].append("backup:vm")
    data["config"]["firewall:proxy"] = "4000"
    problems = _problems(data)
    assert any('.config."cluster:vm".vmid: also set at .vmid' in p for p in problems)
    assert any('.config."bad key": not a dependency name' in p for p in problems)
    assert any('.config."firewall:proxy": "4000" is not an object' in p for p in problems)
    undeclared = copy.deepcopy(_nested())
    undeclared["dependsOn"].remove("cluster:vm")
    (problem,) = _problems(undeclared)
    assert '.config."cluster:vm": block for a dependency that .dependsOn does not list' in problem
    assert _problems(_set("config", [1])) == [
        'litellm.json: .config: [1] is not an object; allowed: an object of "module:service" '
        'blocks, e.g. {"cluster:vm": {"cores": 4}}'
    ]


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_module_file(tmp_path / "missing.json", ZONES)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"vmname": "caf\xe9"}')
    with pytest.raises(InputError, match="not UTF-8"):
        load_module_file(latin, ZONES)


def test_cluster_zones_file(tmp_path: Path) -> None:
    zones = load_zones(
        write_json(
            tmp_path / "zones.json",
            {"_README": {}, "lab": {"type": "Service", "state": "Active", "vlantag": 900}},
        )
    )
    spec = parse_module(
        json.dumps(_set("zone0", "lab")), zones, display="x.json", default_name="x"
    )[0]
    assert spec.zone.vlantag == 900 and spec.fqdn == "litellm.lab.internal"
    with pytest.raises(InputError) as info:
        parse_module(json.dumps(_nested()), zones, display="x.json", default_name="x")
    assert "an active zone in" in info.value.problems[0] and ": lab" in info.value.problems[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{", "malformed JSON in zones file"),
        ("[]", "JSON object"),
        ('{"_README": {}}', "no zones"),
        ('{"a": {}}', '"a".vlantag: missing'),
        ('{"a": {"vlantag": "7"}}', '"a".vlantag: "7" is not a number'),
        ('{"a": {"vlantag": 4095}}', '"a".vlantag: 4095 is not a VLAN tag'),
        ('{"a": {"vlantag": -1}}', '"a".vlantag: -1 is not a VLAN tag'),
        ('{"a": {"vlantag": 1' + "0" * 30 + "}}", '"a".vlantag: 1000000000000000000000000000000'),
    ],
)
def test_bad_zones_file(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "zones.json"
    path.write_text(content)
    with pytest.raises(InputError, match=words):
        load_zones(path)


def test_a_missing_proxy_port_is_named() -> None:
    # TAPPaaS's firewall:proxy forwards to proxyPort, 80 when absent: nothing listens there.
    data = _nested()
    del data["config"]["firewall:proxy"]["proxyPort"]
    warnings = _parse(data)[2]
    assert any(".proxyPort not set" in w and '"proxyPort": 4000' in w for w in warnings)
    assert not any("proxyPort" in w for w in _parse(_nested())[2])
