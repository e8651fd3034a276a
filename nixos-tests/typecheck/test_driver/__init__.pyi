# Typed stand-in of the NixOS test driver (nixpkgs nixos/lib/test-driver), for
# type-checking nixos-tests/*.py here, as the Nix build does with the real one.
