"""modules/litellm/lib/firewall-sources.nix: the exporters' ports open to the Prometheus
addresses in tappaas.litellm.metrics.allowedScrapers and to nobody else."""

from __future__ import annotations

import json

from nixtools import ROOT, nix_eval

LIB = ROOT / "modules" / "litellm" / "lib" / "firewall-sources.nix"


def rules(sources: list[str], ports: list[int]) -> dict[str, str]:
    value = nix_eval(
        f"import {LIB} {{ sources = {nix_list(sources)}; ports = {nix_list(ports)}; }}"
    )
    assert isinstance(value, dict)
    return value


def nix_list(items: list[str] | list[int]) -> str:
    return "[ " + " ".join(json.dumps(i) for i in items) + " ]"


def test_each_source_and_port_and_nothing_else() -> None:
    got = rules(["10.2.10.5", "fd00::5"], [9187, 9121])
    assert got["iptables"].splitlines() == [
        "iptables -w -A nixos-fw -p tcp -s 10.2.10.5 --dport 9187 -j nixos-fw-accept",
        "iptables -w -A nixos-fw -p tcp -s 10.2.10.5 --dport 9121 -j nixos-fw-accept",
        "ip6tables -w -A nixos-fw -p tcp -s fd00::5 --dport 9187 -j nixos-fw-accept",
        "ip6tables -w -A nixos-fw -p tcp -s fd00::5 --dport 9121 -j nixos-fw-accept",
    ]
    assert got["nftables"].splitlines() == [
        "ip saddr { 10.2.10.5 } tcp dport { 9187, 9121 } accept",
        "ip6 saddr { fd00::5 } tcp dport { 9187, 9121 } accept",
    ]


def test_no_source_opens_nothing() -> None:
    assert rules([], [9187, 9121]) == {"iptables": "", "nftables": ""}
    assert rules(["10.2.10.5"], []) == {"iptables": "", "nftables": ""}
