# For nixeval only: services.alloy as NixOS 25.11 declares it in
# nixos/modules/services/monitoring/alloy.nix; nixeval's mirror lacks it.
# tests/test_nixeval.py lists it in KNOWN_MIRROR_GAPS.
{ lib, ... }:
let
  inherit (lib) mkOption mkEnableOption types;
in
{
  # nixos/modules/services/monitoring/alloy.nix
  options.services.alloy = {
    enable = mkEnableOption "Grafana Alloy";
    package = mkOption {
      type = types.nullOr types.unspecified;
      default = null;
      description = "The grafana-alloy package (mkPackageOption in nixpkgs).";
    };
    configPath = mkOption {
      type = types.path;
      default = "/etc/alloy";
      description = "Alloy configuration file/directory path.";
    };
    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra command-line flags passed to `alloy run`.";
    };
  };
}
