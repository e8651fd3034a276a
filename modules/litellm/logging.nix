# Logs to Loki: nixpkgs' Grafana Alloy (services.alloy) ships this VM's
# journal (LiteLLM's container logs included) to TAPPaaS's logging module,
# labelled with the host and the systemd unit, as TAPPaaS's own VMs do.
# (Promtail, used before, reached its end of life in March 2026 and left
# nixpkgs after 25.11.)
{ config, lib, ... }:
let
  cfg = config.tappaas.litellm;
  lcfg = cfg.logging;

  on = cfg.enable && lcfg.lokiUrl != null;

  # Alloy's own HTTP endpoint (its UI and /metrics), on loopback.
  listenAddress = "127.0.0.1:12345";
in
{
  options.tappaas.litellm.logging = {
    lokiUrl = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "http://logging.mgmt.internal:3100/loki/api/v1/push";
      description = ''
        Loki's push URL; when set, Grafana Alloy ships the journal there with
        the labels `host` (the VM's host name), `unit` (the systemd unit),
        `severity`, `container` and `job = "systemd-journal"`. Anything that
        looks like a LiteLLM key (`sk-...`) is masked before a line leaves
        the VM. `null` ships nothing.
      '';
    };

    maxAge = lib.mkOption {
      type = lib.types.str;
      default = "12h";
      description = "How far back Alloy reads the journal when it starts without a saved position.";
    };
  };

  config = {
    assertions = lib.mkIf on [
      {
        assertion = builtins.match "https?://.+" lcfg.lokiUrl != null;
        message = ''
          tappaas.litellm.logging.lokiUrl must be an http:// or https:// URL
          (it is "${lcfg.lokiUrl}"), e.g. "http://logging.mgmt.internal:3100/loki/api/v1/push".
        '';
      }
    ];

    # nixpkgs' alloy module runs `alloy run /etc/alloy` (its configPath default)
    # and reloads it when this file changes.
    environment.etc = lib.optionalAttrs on {
      "alloy/config.alloy".text = import ./lib/alloy-config.nix {
        inherit (lcfg) lokiUrl maxAge;
        hostName = config.networking.hostName;
      };
    };

    # optionalAttrs, not mkIf: hosts without logging never name services.alloy.
    services = lib.optionalAttrs on {
      alloy = {
        enable = true;
        extraFlags = [
          "--server.http.listen-addr=${listenAddress}"
          # No usage reports to Grafana Labs from a VM of the organisation.
          "--disable-reporting"
        ];
      };
    };
  };
}
