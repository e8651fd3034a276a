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
  vm-litellm = runTest ./litellm.nix;
  vm-adopt = runTest ./adopt.nix;
  vm-tappaas = runTest ./tappaas.nix;
  vm-scaleout = runTest ./scaleout.nix;
  vm-faults = runTest ./faults.nix;
  vm-upgrade = runTest ./upgrade.nix;
}
