# Adoption: a VM installed by the TAPPaaS install guide is switched to this
# flake's module and keeps its master key, virtual keys with their spend,
# models whose provider keys are stored encrypted in the database, its Redis
# data and its guide-style backups; PostgreSQL loses `trust`.
{
  name = "adopt";

  nodes.machine = ./node.nix;

  testScript = builtins.readFile ../common/gateway.py + builtins.readFile ./adopt.py;
}
