# The desired state `litellm-service-keys` reads, from
# tappaas.litellm.serviceKeys: LiteLLM's field names, no secrets.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/service-keys-state.nix { serviceKeys.n8n.models = [ "m" ]; }'
{
  serviceKeys ? { },
  prune ? false,
}:
{
  inherit prune;
  consumers = builtins.mapAttrs (_: key: {
    models = key.models or [ ];
    max_budget = key.maxBudget or null;
    budget_duration = key.budgetDuration or null;
    rpm_limit = key.rpmLimit or null;
    tpm_limit = key.tpmLimit or null;
    metadata = key.metadata or { };
  }) serviceKeys;
}
