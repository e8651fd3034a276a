"""The desired state the NixOS module renders for litellm-service-keys
(modules/litellm/lib/service-keys-state.nix, evaluated with Debian's Nix) is what the
reconciler reads: LiteLLM's field names, every limit carried over, nothing else."""

from __future__ import annotations

from nixtools import nix_eval
from tappaas_litellm.onvm.key_reconciler import DesiredState

STATE = "import ./modules/litellm/lib/service-keys-state.nix"


def test_option_names_become_litellm_fields() -> None:
    rendered = nix_eval(
        f"""{STATE} {{
          prune = true;
          serviceKeys = {{
            openwebui = {{ models = [ "gpt-4o" ]; maxBudget = 50; budgetDuration = "30d";
                          rpmLimit = null; tpmLimit = null; metadata = {{ }}; }};
            n8n = {{ models = [ ]; maxBudget = 2.5; budgetDuration = null; rpmLimit = 60;
                    tpmLimit = 1000; metadata = {{ team = "automation"; }}; }};
          }};
        }}"""
    )
    state = DesiredState.model_validate(rendered)
    assert state.prune is True
    assert state.consumers["openwebui"].model_dump() == {
        "models": ["gpt-4o"],
        "max_budget": 50.0,
        "budget_duration": "30d",
        "rpm_limit": None,
        "tpm_limit": None,
        "metadata": {},
    }
    assert state.consumers["n8n"].rpm_limit == 60
    assert state.consumers["n8n"].tpm_limit == 1000
    assert state.consumers["n8n"].max_budget == 2.5
    assert state.consumers["n8n"].metadata == {"team": "automation"}


def test_no_consumers_no_prune_by_default() -> None:
    state = DesiredState.model_validate(nix_eval(f"{STATE} {{ }}"))
    assert state.consumers == {} and state.prune is False
