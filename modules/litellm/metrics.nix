# Metrics for Prometheus: LiteLLM's own /metrics (its prometheus callback,
# behind a key) and nixpkgs' PostgreSQL and Redis exporters.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;
  mcfg = cfg.metrics;

  on = cfg.enable && mcfg.enable;

  hostPort =
    host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";

  exporterEnvFile = "/run/litellm-redis-exporter/env";

  exporterEnvScript = import ./lib/mk-script.nix pkgs "litellm-redis-exporter-env" [
    pkgs.coreutils
  ];
in
{
  options.tappaas.litellm.metrics = {
    enable = lib.mkEnableOption ''
      metrics for Prometheus: LiteLLM's `/metrics` on its own port (a
      Prometheus scrape needs the master key or a virtual key as bearer token),
      the PostgreSQL exporter (local database only) and the Redis exporter'';

    listenAddress = lib.mkOption {
      type = lib.types.str;
      default = cfg.listenAddress;
      defaultText = lib.literalExpression "config.tappaas.litellm.listenAddress";
      example = "0.0.0.0";
      description = ''
        Address the PostgreSQL and Redis exporters listen on. Their metrics
        carry no secrets but describe the database; reach them from another
        VM only with {option}`tappaas.litellm.metrics.openFirewall`.
      '';
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Whether to open the exporters' ports
        ({option}`tappaas.litellm.metrics.postgresPort`,
        {option}`tappaas.litellm.metrics.redisPort`) in the firewall.
        LiteLLM's `/metrics` is on {option}`tappaas.litellm.port`
        ({option}`tappaas.litellm.openFirewall`).
      '';
    };

    postgresPort = lib.mkOption {
      type = lib.types.port;
      default = 9187;
      description = "Port of the PostgreSQL exporter.";
    };

    redisPort = lib.mkOption {
      type = lib.types.port;
      default = 9121;
      description = "Port of the Redis exporter.";
    };
  };

  config = {
    tappaas.litellm.settings = lib.mkIf on (lib.importJSON ./metrics-settings.json);

    # optionalAttrs, not mkIf: hosts without metrics never name these options.
    services = lib.optionalAttrs on {
      prometheus.exporters =
        lib.optionalAttrs cfg.database.createLocally {
          postgres = {
            enable = true;
            inherit (mcfg) listenAddress openFirewall;
            port = mcfg.postgresPort;
            # Peer authentication on the socket as `postgres`; no password.
            runAsLocalSuperUser = true;
          };
        }
        // {
          redis = {
            enable = true;
            inherit (mcfg) listenAddress openFirewall;
            port = mcfg.redisPort;
            extraFlags = [ "--redis.addr=redis://${hostPort cfg.redis.host cfg.redis.port}" ];
          };
        };
    };

    systemd.services = lib.mkIf on (
      {
        # REDIS_PASSWORD alone, for the exporter; read by systemd as root.
        litellm-redis-exporter-env = {
          description = "Redis password for the Prometheus Redis exporter";
          after = [ "generate-litellm-secrets.service" ];
          requires = [ "generate-litellm-secrets.service" ];
          environment = {
            LITELLM_REDIS_PASSWORD_FILE = cfg.secrets.redisPasswordFile;
            LITELLM_EXPORTER_ENV_FILE = exporterEnvFile;
          };
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
            UMask = "0077";
            ExecStart = lib.getExe exporterEnvScript;
          };
        };

        prometheus-redis-exporter = {
          requires = [ "litellm-redis-exporter-env.service" ];
          after = [
            "litellm-redis-exporter-env.service"
          ]
          ++ lib.optional cfg.redis.createLocally "redis-litellm.service";
          serviceConfig.EnvironmentFile = exporterEnvFile;
        };
      }
      // lib.optionalAttrs cfg.database.createLocally {
        prometheus-postgres-exporter.after = [ "postgresql.target" ];
      }
    );
  };
}
