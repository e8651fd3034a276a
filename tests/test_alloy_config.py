"""Logs to Loki through Grafana Alloy: the configuration the module renders.

No `alloy` binary can be had here (not on PyPI, Debian or npm), so the rendered text is
checked: the journal source with the labels TAPPaaS's VMs use (`host`, `unit`, `severity`,
`container`, `job`), every component it refers to defined, the chain source -> mask -> Loki,
values quoted as Alloy strings; and the masking expression itself against journal lines with
keys. The VM test vm-tappaas runs the real Alloy against a stand-in Loki.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from nixtools import ROOT, golden_host_text, nix_eval, nixeval

RENDER = "import ./modules/litellm/lib/alloy-config.nix"
URL = "http://logging.mgmt.internal:3100/loki/api/v1/push"
BLOCK = re.compile(r'^([a-z_.]+) "([a-z_]+)" \{$', re.M)
REFERENCE = re.compile(r"\b(loki\.[a-z_.]+)\.([a-z_]+)\.(receiver|rules)\b")


def render(**args: str) -> str:
    values = {"lokiUrl": URL, "hostName": "litellm"} | args
    listed = " ".join(f"{k} = {json.dumps(v)};" for k, v in values.items())
    text = nix_eval(f"{RENDER} {{ {listed} }}")
    assert isinstance(text, str)
    return text


def attribute(text: str, name: str) -> str:
    """The value of `name = "..."` (one per configuration), unquoted as Alloy reads it."""
    found = re.findall(rf'^\s*{re.escape(name)}\s*=\s*("(?:[^"\\]|\\.)*")', text, re.M)
    assert len(found) == 1, (name, found)
    value: str = json.loads(found[0])
    return value


def test_the_journal_goes_to_loki_with_the_labels_of_tappaas_vms() -> None:
    text = render()
    assert attribute(text, "url") == URL
    assert attribute(text, "host") == "litellm"
    assert attribute(text, "max_age") == "12h"
    assert re.findall(r'^\s*job\s*=\s*"([^"]+)"', text, re.M) == ["systemd-journal"] * 2
    rules = re.findall(
        r'rule \{\s*source_labels = \["([^"]+)"\]\s*target_label\s*=\s*"([^"]+)"\s*\}', text
    )
    assert rules == [
        ("__journal__systemd_unit", "unit"),
        ("__journal_priority_keyword", "severity"),
        ("__journal_container_name", "container"),
    ]


def test_every_component_referred_to_is_defined_and_the_chain_ends_at_loki() -> None:
    text = render()
    assert text.count("{") == text.count("}")
    defined = {f"{kind}.{label}" for kind, label in BLOCK.findall(text)}
    assert defined == {
        "loki.relabel.journal",
        "loki.source.journal.journal",
        "loki.process.mask_keys",
        "loki.write.tappaas",
    }
    referred = {f"{kind}.{label}" for kind, label, _ in REFERENCE.findall(text)}
    assert referred <= defined, referred - defined
    # journal -> mask_keys -> tappaas: no line reaches Loki unmasked.
    forwards = re.findall(r"forward_to\s*=\s*\[([^\]]*)\]", text)
    assert forwards == ["", "loki.process.mask_keys.receiver", "loki.write.tappaas.receiver"]


def test_values_are_alloy_strings_whatever_they_hold() -> None:
    text = render(lokiUrl='http://loki:3100/push?a="b"\\c', hostName="vm-1")
    assert attribute(text, "url") == 'http://loki:3100/push?a="b"\\c'


def mask(line: str) -> str:
    """What Alloy's stage.replace does with the rendered expression: each match of the
    expression's group becomes the replacement (RE2 and Python agree on this expression)."""
    text = render()
    pattern = re.compile(attribute(text, "expression"))
    replacement = attribute(text, "replace")
    return pattern.sub(replacement, line)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (
            "Authorization: Bearer sk-1234567890abcdefABCDEF",
            "Authorization: Bearer sk-***",
        ),
        (
            '{"key": "sk-Xy_9-AbCdEfGh", "key_alias": "n8n"}',
            '{"key": "sk-***", "key_alias": "n8n"}',
        ),
        (
            "LITELLM_MASTER_KEY=sk-0123456789abcdef0123456789abcdef",
            "LITELLM_MASTER_KEY=sk-***",
        ),
        ("two keys: sk-aaaaaaaaaa and sk-bbbbbbbbbbbb", "two keys: sk-*** and sk-***"),
        # Not keys: too short, or no sk- prefix.
        ("sk-1234 is a ticket number", "sk-1234 is a ticket number"),
        (
            "INFO: 127.0.0.1 - GET /health/readiness 200",
            "INFO: 127.0.0.1 - GET /health/readiness 200",
        ),
    ],
)
def test_keys_are_masked_before_a_line_leaves_the_vm(line: str, masked: str) -> None:
    assert mask(line) == masked


def test_the_module_writes_the_rendered_configuration_where_alloy_reads_it(
    tmp_path: Path,
) -> None:
    host = tmp_path / "default.nix"
    host.write_text(golden_host_text())
    logging = tmp_path / "logging.nix"
    logging.write_text(f'{{ tappaas.litellm.logging.lokiUrl = "{URL}"; }}')
    probe = tmp_path / "probe.nix"
    probe.write_text(
        '{ config, ... }: { environment.etc."nixeval-probe/alloy".text = '
        "builtins.toJSON config.services.alloy; }"
    )
    gap = ROOT / "tests" / "nixeval" / "mirror-gaps" / "alloy.nix"
    status, report, stderr = nixeval(ROOT, host, logging, probe, gap)
    assert status == 0, stderr
    result = report["results"]["modules"]
    assert result["etc"]["alloy/config.alloy"]["text"] == render()
    alloy = json.loads(result["etc"]["nixeval-probe/alloy"]["text"])
    assert alloy["enable"] is True
    assert alloy["configPath"] == "/etc/alloy"
    assert alloy["extraFlags"] == [
        "--server.http.listen-addr=127.0.0.1:12345",
        "--disable-reporting",
    ]
