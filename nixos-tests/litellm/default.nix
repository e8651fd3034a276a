# The whole gateway in one VM: services and their order, secrets, the real
# LiteLLM image with PostgreSQL and Redis, virtual keys, models stored in the
# database, the Redis cache, backups and the restore command, a reboot, and
# the verify checks the admins run (the same code, through the test driver).
{ pkgs, ... }:
{
  name = "litellm";

  nodes.machine = ../common/node.nix;

  # The test script imports the verify checks from the project's package,
  # built with the driver's own Python package set so it lands on the
  # driver's Python path whatever Python version the driver uses.
  extraPythonPackages = ps: [
    (ps.toPythonModule (
      (pkgs.callPackage ../../generator/package.nix { python3Packages = ps; }).overridePythonAttrs {
        doCheck = false;
      }
    ))
  ];

  testScript = builtins.readFile ../common/gateway.py + builtins.readFile ./litellm.py;
}
