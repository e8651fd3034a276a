# The whole gateway in one VM: services and their order, secrets, the real
# LiteLLM image with PostgreSQL and Redis, virtual keys, models stored in the
# database, the Redis cache, backups and the restore command, a reboot, and
# the verify checks the admins run (the same code, through the test driver).
{ pkgs, self, ... }:
let
  tool = (pkgs.callPackage ../generator/package.nix { }).overridePythonAttrs { doCheck = false; };
in
{
  name = "litellm";

  nodes.machine = ./node.nix;

  # The test script imports the verify checks from the project's package.
  extraPythonPackages = ps: [ (ps.toPythonModule tool) ];
  skipTypeCheck = true;

  testScript = builtins.readFile ./litellm.py;
}
