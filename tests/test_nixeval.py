"""Every shape of host the project makes, evaluated with nixpkgs' module system (nixeval).

The shapes: every generated host the generator's golden files know (single VM in each size,
the flat and nested module files, the datastore and its gateway) and the VM test's TAPPaaS
shape (metrics, logs to Loki, service keys with prune); each as a NixOS configuration and as
its Proxmox image (`nix build .#<host>-proxmox`), through the flake as a user builds it.

nixeval's mirror of NixOS lacks a few options nixpkgs has. Those are KNOWN_MIRROR_GAPS, each
with the nixpkgs file that declares it: a configuration may fail on them and nothing else,
and with their declarations (tests/nixeval/mirror-gaps/) every shape must evaluate to the
end with no failed assertion. Any other failure fails the test.
"""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

import pytest
from nixtools import ROOT, nixeval

GOLDEN = ROOT / "generator" / "tests" / "golden"
GAPS_DIR = ROOT / "tests" / "nixeval" / "mirror-gaps"

# Options nixeval's mirror does not declare: where nixpkgs (nixos-25.11) declares each, and
# the file here that declares it the same way for nixeval.
KNOWN_MIRROR_GAPS = {
    "services.alloy": (
        "nixos/modules/services/monitoring/alloy.nix",
        GAPS_DIR / "alloy.nix",
    ),
    "services.prometheus": (
        "nixos/modules/services/monitoring/prometheus/exporters.nix",
        GAPS_DIR / "prometheus-exporters.nix",
    ),
}
GAP_FILES = [declared for _, declared in KNOWN_MIRROR_GAPS.values()]

# What the VM test vm-tappaas adds to a single VM (nixos-tests/tappaas/default.nix), as local.nix.
TAPPAAS_LOCAL = """{
  tappaas.litellm = {
    metrics.enable = true;
    logging.lokiUrl = "http://logging.mgmt.internal:3100/loki/api/v1/push";
    serviceKeys = {
      openwebui = { models = [ "test-model" ]; maxBudget = 5; budgetDuration = "30d"; };
      n8n = { models = [ "test-model-b" ]; rpmLimit = 600; };
    };
    serviceKeysPrune = true;
  };
}
"""

SHAPES = sorted([p.stem for p in GOLDEN.glob("*.nix")] + ["tappaas"])
MISSING = re.compile(r"error: The option `([^']+)' does not exist\.")


@cache
def checkout() -> Path:
    """A copy of the flake with one host folder per shape (hosts as the generator writes them)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="nixeval-shapes-"))
    shutil.copy(ROOT / "flake.nix", root / "flake.nix")
    shutil.copytree(ROOT / "modules", root / "modules")
    (root / "generator").mkdir()
    shutil.copy(ROOT / "generator" / "package.nix", root / "generator" / "package.nix")
    for shape in SHAPES:
        folder = root / "hosts" / shape
        folder.mkdir(parents=True)
        golden = "litellm" if shape == "tappaas" else shape
        shutil.copy(GOLDEN / f"{golden}.nix", folder / "default.nix")
    (root / "hosts" / "tappaas" / "local.nix").write_text(TAPPAAS_LOCAL)
    return root


@cache
def flake_report() -> tuple[int, dict, str]:
    return nixeval("--flake", checkout())


def gaps_in(error: str) -> list[str]:
    """The options an evaluation error says do not exist; fails on any other error."""
    lines = [line for line in error.splitlines() if "error:" in line]
    missing = [m[1] for m in map(MISSING.search, lines) if m]
    assert missing and len(missing) == len(lines), error
    return missing


def test_every_host_and_image_evaluates_or_fails_only_on_a_known_mirror_gap() -> None:
    status, report, stderr = flake_report()
    results = report["results"]
    assert sorted(results) == sorted(SHAPES + [f"image:{s}-proxmox" for s in SHAPES]), stderr
    hit: set[str] = set()
    for name, result in results.items():
        if "error" in result:
            unknown = [g for g in gaps_in(result["error"]) if g not in KNOWN_MIRROR_GAPS]
            assert unknown == [], f"{name}: {result['error']}"
            hit.update(gaps_in(result["error"]))
        else:
            assert result["failedAssertions"] == [], (name, result["failedAssertions"])
            # A datastore runs PostgreSQL and no LiteLLM; every other shape runs LiteLLM.
            datastore = "litellm-db" in name
            assert ("podman-litellm.service" in result["units"]) != datastore, name
            assert "postgresql.service" in result["units"] or name.startswith(
                ("litellm1", "image:litellm1")
            ), name
    # Only the shape with metrics and logs meets a gap.
    failing = {name for name, result in results.items() if "error" in result}
    assert failing == {"tappaas", "image:tappaas-proxmox"} and hit, failing
    assert status in (0, 1), stderr


@pytest.mark.parametrize("gap", sorted(KNOWN_MIRROR_GAPS))
def test_every_known_gap_is_still_missing_from_the_mirror(gap: str) -> None:
    """With every other gap declared, the TAPPaaS shape fails on this one alone; when the
    mirror gains it, this fails: remove it from KNOWN_MIRROR_GAPS and tests/nixeval/."""
    others = [declared for name, (_, declared) in KNOWN_MIRROR_GAPS.items() if name != gap]
    host = checkout() / "hosts" / "tappaas" / "default.nix"
    status, report, stderr = nixeval(checkout(), host, *others)
    assert status == 1, stderr
    assert gaps_in(report["results"]["modules"]["error"]) == [gap]


@pytest.mark.parametrize("shape", SHAPES)
def test_with_the_gaps_declared_every_shape_evaluates_to_the_end(shape: str) -> None:
    host = checkout() / "hosts" / shape / "default.nix"
    status, report, stderr = nixeval(checkout(), host, *GAP_FILES)
    assert status == 0, stderr
    result = report["results"]["modules"]
    assert result["failedAssertions"] == [] and result["warnings"] == []


@pytest.mark.parametrize("gap", sorted(KNOWN_MIRROR_GAPS))
def test_each_gap_declaration_names_its_nixpkgs_file(gap: str) -> None:
    where, declared = KNOWN_MIRROR_GAPS[gap]
    text = declared.read_text()
    assert f"options.{gap}" in text and where in text, declared
    assert sorted(GAPS_DIR.glob("*.nix")) == sorted(GAP_FILES)
