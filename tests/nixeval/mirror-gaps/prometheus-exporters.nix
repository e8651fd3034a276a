# For nixeval only: services.prometheus.exporters.{postgres,redis} as NixOS
# 25.11 declares them in nixos/modules/services/monitoring/prometheus/exporters.nix
# (with exporters/postgres.nix and exporters/redis.nix); nixeval's mirror lacks
# them. tests/test_nixeval.py lists it in KNOWN_MIRROR_GAPS.
{ lib, ... }:
let
  inherit (lib) mkOption mkEnableOption types;

  # nixos/modules/services/monitoring/prometheus/exporters.nix, mkExporterOpts.
  exporter =
    name: port: extraOptions:
    mkOption {
      default = { };
      description = "The ${name} exporter (mirrors nixpkgs' exporters.nix).";
      type = types.submodule {
        options = {
          enable = mkEnableOption "the prometheus ${name} exporter";
          port = mkOption {
            type = types.port;
            default = port;
            description = "Port to listen on.";
          };
          listenAddress = mkOption {
            type = types.str;
            default = "0.0.0.0";
            description = "Address to listen on.";
          };
          extraFlags = mkOption {
            type = types.listOf types.str;
            default = [ ];
            description = "Extra command-line options.";
          };
          openFirewall = mkOption {
            type = types.bool;
            default = false;
            description = "Open port in firewall for incoming connections.";
          };
          firewallFilter = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "iptables filter used with openFirewall.";
          };
          firewallRules = mkOption {
            type = types.nullOr types.lines;
            default = null;
            description = "nftables rules used with openFirewall.";
          };
          user = mkOption {
            type = types.str;
            default = "${name}-exporter";
            description = "User of the exporter.";
          };
          group = mkOption {
            type = types.str;
            default = "${name}-exporter";
            description = "Group of the exporter.";
          };
        }
        // extraOptions;
      };
    };
in
{
  # nixos/modules/services/monitoring/prometheus/exporters.nix, with the
  # options of exporters/postgres.nix and exporters/redis.nix (the two used).
  options.services.prometheus.exporters = {
    postgres = exporter "postgres" 9187 {
      telemetryPath = mkOption {
        type = types.str;
        default = "/metrics";
        description = "Path under which to expose metrics.";
      };
      dataSourceName = mkOption {
        type = types.str;
        default = "user=postgres database=postgres host=/run/postgresql sslmode=disable";
        description = "PostgreSQL URI or key=value arguments.";
      };
      runAsLocalSuperUser = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to run the exporter as the local 'postgres' super user.";
      };
      environmentFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Environment file of the exporter.";
      };
    };
    redis = exporter "redis" 9121 { };
  };
}
