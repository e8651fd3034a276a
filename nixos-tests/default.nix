# NixOS VM tests, run by `nix flake check` (they need KVM).
# Run one by hand: nix build .#checks.x86_64-linux.vm-litellm -L
# Debug it: nix run .#checks.x86_64-linux.vm-litellm.driverInteractive
{ pkgs, self }:
let
  runTest =
    module:
    pkgs.testers.runNixOSTest {
      imports = [ module ];
      node.specialArgs = { inherit self; };
    };
in
{
  vm-litellm = runTest ./litellm;
  vm-adopt = runTest ./adopt;
  vm-tappaas = runTest ./tappaas;
  vm-scaleout = runTest ./scaleout;
  vm-faults = runTest ./faults;
  vm-upgrade = runTest ./upgrade;
}
