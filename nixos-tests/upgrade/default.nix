# Upgrades without loss, with the code of `tappaas-litellm upgrade` itself
# (its steps and its rollback, through the test driver instead of SSH): keys,
# models with stored provider keys and spend move to another image; a broken
# image rolls back with nothing lost; PostgreSQL 17 moves to 18 with its data.
{ pkgs, ... }:
{
  name = "upgrade";

  nodes.machine = ./node.nix;

  extraPythonPackages = ps: [
    (ps.toPythonModule (
      (pkgs.callPackage ../../generator/package.nix { python3Packages = ps; }).overridePythonAttrs {
        doCheck = false;
      }
    ))
  ];
  testScript = ''
    HELPER = "${../../modules/litellm/scripts/litellm-upgrade-helper.sh}"
  ''
  + builtins.readFile ../common/gateway.py
  + builtins.readFile ./upgrade.py;
}
