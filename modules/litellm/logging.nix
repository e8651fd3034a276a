# Logs to Loki: nixpkgs' Promtail ships this VM's journal (LiteLLM's
# container logs included) to TAPPaaS's logging module, labelled with the
# host and the systemd unit, as TAPPaaS's own VMs do.
{ config, lib, ... }:
let
  cfg = config.tappaas.litellm;
  lcfg = cfg.logging;

  on = cfg.enable && lcfg.lokiUrl != null;
in
{
  options.tappaas.litellm.logging = {
    lokiUrl = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "http://logging.mgmt.internal:3100/loki/api/v1/push";
      description = ''
        Loki's push URL; when set, Promtail ships the journal there with the
        labels `host` (the VM's host name), `unit` (the systemd unit),
        `severity`, `container` and `job = "systemd-journal"`. Anything that
        looks like a LiteLLM key (`sk-...`) is masked before a line leaves
        the VM. `null` ships nothing.
      '';
    };

    maxAge = lib.mkOption {
      type = lib.types.str;
      default = "12h";
      description = "How far back Promtail reads the journal when it starts without a saved position.";
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

    # optionalAttrs, not mkIf: hosts without logging never name services.promtail.
    services = lib.optionalAttrs on {
      promtail = {
        enable = true;
        configuration = {
          # Promtail's own HTTP endpoint stays on loopback.
          server = {
            http_listen_address = "127.0.0.1";
            http_listen_port = 9080;
            grpc_listen_port = 0;
          };
          clients = [ { url = lcfg.lokiUrl; } ];
          scrape_configs = [
            {
              job_name = "journal";
              journal = {
                max_age = lcfg.maxAge;
                labels = {
                  job = "systemd-journal";
                  host = config.networking.hostName;
                };
              };
              relabel_configs = [
                {
                  source_labels = [ "__journal__systemd_unit" ];
                  target_label = "unit";
                }
                {
                  source_labels = [ "__journal_priority_keyword" ];
                  target_label = "severity";
                }
                {
                  source_labels = [ "__journal_container_name" ];
                  target_label = "container";
                }
              ];
              pipeline_stages = [
                {
                  replace = {
                    expression = "(sk-[A-Za-z0-9_-]{8,})";
                    replace = "sk-***";
                  };
                }
              ];
            }
          ];
        };
      };
    };
  };
}
