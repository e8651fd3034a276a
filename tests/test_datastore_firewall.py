"""The datastore's firewall for both address families.

PostgreSQL and Redis of a datastore accept the gateways' addresses, each in its own family:
`iptables` and nftables' `ip saddr` for IPv4, `ip6tables` and `ip6 saddr` for IPv6 (an IPv6
address in an iptables rule, or the other way round, is a rule that never matches or fails
the firewall's start). The datastore listens on one address, so a gateway of the other family
could never connect: evaluation refuses it. The pure rules are evaluated with Debian's Nix,
the whole datastore configuration with nixeval.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nixtools import ROOT, golden_host_text, nix_eval, nixeval

RULES = "import ./modules/litellm/lib/firewall-sources.nix"
PROBE = ROOT / "tests" / "nixeval" / "firewall-probe.nix"
IPTABLES = re.compile(
    r"^(ip6?tables) -w -A nixos-fw -p tcp -s (\S+) --dport (\d+) -j nixos-fw-accept$"
)


def rules(addresses: list[str]) -> dict:
    listed = " ".join(f'"{a}"' for a in addresses)
    value = nix_eval(f"{RULES} {{ sources = [ {listed} ]; ports = [ 5432 6379 ]; }}")
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.2.20.21", "10.2.20.22"],
        ["fd00:2:20::21", "2001:db8:1::3"],
        ["10.2.20.21", "fd00:2:20::22"],
    ],
)
def test_every_rule_is_in_its_addresss_family(addresses: list[str]) -> None:
    got = rules(addresses)
    lines = got["iptables"].splitlines()
    parsed = [IPTABLES.match(line) for line in lines]
    assert all(parsed), lines
    seen = {(m[2], int(m[3])) for m in parsed if m}
    assert seen == {(a, p) for a in addresses for p in (5432, 6379)}
    for m in parsed:
        assert m is not None
        assert m[1] == ("ip6tables" if ":" in m[2] else "iptables"), m[0]
    v4 = [a for a in addresses if ":" not in a]
    v6 = [a for a in addresses if ":" in a]
    expected = []
    if v4:
        expected.append(f"ip saddr {{ {', '.join(v4)} }} tcp dport {{ 5432, 6379 }} accept")
    if v6:
        expected.append(f"ip6 saddr {{ {', '.join(v6)} }} tcp dport {{ 5432, 6379 }} accept")
    assert got["nftables"].splitlines() == expected


def datastore(tmp_path: Path, listen: str, gateway1: str, gateway2: str) -> dict:
    """The generated datastore host (golden litellm-db) with other addresses, evaluated."""
    text = golden_host_text("litellm-db")
    for old, new in (("10.2.20.20", listen), ("10.2.20.21", gateway1), ("10.2.20.22", gateway2)):
        assert f'"{old}"' in text
        text = text.replace(f'"{old}"', f'"{new}"')
    host = tmp_path / "default.nix"
    host.write_text(text)
    status, report, stderr = nixeval(ROOT, host, PROBE)
    assert status in (0, 2), stderr
    result: dict = report["results"]["modules"]
    return result


def test_an_ipv4_datastore_accepts_its_gateways_over_ipv4(tmp_path: Path) -> None:
    result = datastore(tmp_path, "192.168.1.1", "192.168.1.2", "192.168.1.3")
    assert result["failedAssertions"] == []
    commands = result["etc"]["nixeval-probe/extraCommands"]["text"].splitlines()
    assert commands == [
        f"iptables -w -A nixos-fw -p tcp -s 192.168.1.{n} --dport {port} -j nixos-fw-accept"
        for n in (2, 3)
        for port in (5432, 6379)
    ]
    # Nothing for IPv6: there the final refuse rule drops the ports (the VM test checks it).
    assert not any("ip6tables" in line for line in commands)
    assert result["firewall"]["allowedTCPPorts"] == [22]
    auth = result["postgresql"]["authentication"]
    assert "host litellm litellm 192.168.1.2/32 scram-sha-256" in auth


def test_an_ipv6_datastore_accepts_its_gateways_over_ipv6(tmp_path: Path) -> None:
    result = datastore(tmp_path, "fd00:2:20::20", "fd00:2:20::21", "fd00:2:20::22")
    assert result["failedAssertions"] == []
    commands = result["etc"]["nixeval-probe/extraCommands"]["text"].splitlines()
    assert len(commands) == 4 and all(line.startswith("ip6tables ") for line in commands)
    assert "-s fd00:2:20::21 --dport 5432 " in commands[0]
    auth = result["postgresql"]["authentication"]
    assert "host litellm litellm fd00:2:20::22/128 scram-sha-256" in auth


def test_a_gateway_of_the_other_family_is_refused(tmp_path: Path) -> None:
    result = datastore(tmp_path, "10.2.20.20", "10.2.20.21", "fd00:2:20::22")
    failed = " ".join(" ".join(result["failedAssertions"]).split())
    assert "tappaas.litellm.datastore.gateways.litellm2.address is an IPv6 address" in failed
    assert "listen on 10.2.20.20 (IPv4)" in failed
    assert "litellm1" not in failed


# A node's name resolves to its IPv6 and its IPv4 address in the VM tests (/etc/hosts),
# glibc tries IPv6 first: a check by name tests whichever family answers, which is how a
# check of the datastore's IPv4 rules once hung on IPv6.
BY_NAME = re.compile(
    r"/dev/tcp/(?![{])|(?:psql|redis-cli|pg_isready)[^\n]*\s-h\s+(?![{])[a-z]|curl (?!-4|-6)[^\n]*://(?![{]|127\.0\.0\.1)"
)


def test_the_vm_tests_check_reachability_by_address() -> None:
    tests = ROOT / "nixos-tests"
    scripts = sorted(p for p in tests.rglob("*.py") if "typecheck" not in p.parts)
    assert {tests / "scaleout" / "scaleout.py", tests / "common" / "network.py"} <= set(scripts)
    found = [
        f"{script.relative_to(tests)}:{n}: {line.strip()}"
        for script in scripts
        for n, line in enumerate(script.read_text().splitlines(), 1)
        if BY_NAME.search(line)
    ]
    assert found == []
