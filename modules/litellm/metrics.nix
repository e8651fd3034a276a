# Metrics for Prometheus: LiteLLM's own /metrics (its prometheus callback,
# behind a key) and nixpkgs' PostgreSQL and Redis exporters, for the local
# database and Redis only, on loopback unless Prometheus addresses are named.
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
  postgresExporter = on && cfg.database.createLocally;
  redisExporter = on && cfg.redis.createLocally;

  hostPort =
    host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";

  # The exporter's credentials (root only) and the `user` line Redis
  # includes (readable by the Redis server), made at boot from
  # secrets.redisExporterPasswordFile.
  runDir = "/run/litellm-redis-exporter";
  exporterEnvFile = "${runDir}/env";
  aclFile = "${runDir}/users.acl";
  redisGroup = config.services.redis.servers.litellm.group;
  exporterUser = "litellm-exporter";

  exporterEnvScript = import ./lib/mk-script.nix pkgs "litellm-redis-exporter-env" [
    pkgs.coreutils
  ];

  loopback = [
    "127.0.0.1"
    "::1"
    "localhost"
  ];

  # The exporters' ports, open to the named Prometheus addresses only.
  ports =
    lib.optional postgresExporter mcfg.postgresPort ++ lib.optional redisExporter mcfg.redisPort;
  rules = import ./lib/firewall-sources.nix {
    sources = mcfg.allowedScrapers;
    inherit ports;
  };
  # The nftables firewall takes extraInputRules, the iptables one (the
  # default) extraCommands. (`or false`: tools that lack the option still work.)
  nftables = config.networking.nftables.enable or false;
in
{
  imports = [
    (lib.mkRemovedOptionModule [ "tappaas" "litellm" "metrics" "openFirewall" ] ''
      It opened the exporters' ports to every source. Set
      tappaas.litellm.metrics.listenAddress to this VM's address and list the
      Prometheus servers in tappaas.litellm.metrics.allowedScrapers instead.
    '')
  ];

  options.tappaas.litellm.metrics = {
    enable = lib.mkEnableOption ''
      metrics for Prometheus: LiteLLM's `/metrics` on its own port (a
      Prometheus scrape needs the master key or a virtual key as bearer token),
      and the PostgreSQL and Redis exporters for the local database and Redis'';

    listenAddress = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1";
      example = "10.2.20.21";
      description = ''
        Address the PostgreSQL and Redis exporters listen on. They have no
        authentication: keep loopback unless Prometheus runs on another VM,
        then set this VM's address and name that VM in
        {option}`tappaas.litellm.metrics.allowedScrapers`.
      '';
    };

    allowedScrapers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "10.2.10.5" ];
      description = ''
        IP addresses (no masks) of the Prometheus servers that may reach the
        exporters' ports ({option}`tappaas.litellm.metrics.postgresPort`,
        {option}`tappaas.litellm.metrics.redisPort`) through the firewall;
        every other source stays refused. LiteLLM's `/metrics` is on
        {option}`tappaas.litellm.port` ({option}`tappaas.litellm.openFirewall`).
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

    assertions = lib.optionals on (
      [
        {
          assertion = mcfg.allowedScrapers == [ ] || !(builtins.elem mcfg.listenAddress loopback);
          message = ''
            tappaas.litellm: tappaas.litellm.metrics.allowedScrapers names Prometheus servers, but
            the exporters listen on loopback (tappaas.litellm.metrics.listenAddress =
            "${mcfg.listenAddress}"); set it to this VM's address in the zone.
          '';
        }
      ]
      ++ map (address: {
        assertion = !(builtins.elem address (loopback ++ [ "0.0.0.0" "::" ])) && !(lib.hasInfix "/" address);
        message = ''
          tappaas.litellm: tappaas.litellm.metrics.allowedScrapers holds "${address}"; give each
          Prometheus server's own IP address, without a mask.
        '';
      }) mcfg.allowedScrapers
    );

    # optionalAttrs, not mkIf: hosts without metrics never name these options.
    services = lib.optionalAttrs on (
      {
        prometheus.exporters =
          lib.optionalAttrs postgresExporter {
            postgres = {
              enable = true;
              inherit (mcfg) listenAddress;
              port = mcfg.postgresPort;
              # Peer authentication on the socket as `postgres`; no password.
              runAsLocalSuperUser = true;
            };
          }
          // lib.optionalAttrs redisExporter {
            redis = {
              enable = true;
              inherit (mcfg) listenAddress;
              port = mcfg.redisPort;
              # The password comes from the EnvironmentFile (REDIS_PASSWORD).
              extraFlags = [
                "--redis.addr=redis://${hostPort cfg.redis.host cfg.redis.port}"
                "--redis.user=${exporterUser}"
              ];
            };
          };
      }
      // lib.optionalAttrs redisExporter {
        # The exporter's user, defined at every start of the server.
        redis.servers.litellm.settings.include = aclFile;
      }
    );

    networking.firewall = lib.mkIf (on && mcfg.allowedScrapers != [ ]) {
      extraCommands = lib.mkIf (!nftables) rules.iptables;
      extraInputRules = lib.mkIf nftables rules.nftables;
    };

    systemd.services = lib.mkMerge [
      (lib.mkIf redisExporter {
        generate-litellm-secrets.environment.LITELLM_REDIS_EXPORTER_PASSWORD_FILE =
          cfg.secrets.redisExporterPasswordFile;

        litellm-redis-exporter-env = {
          description = "Redis user and password of the Prometheus Redis exporter";
          after = [ "generate-litellm-secrets.service" ];
          requires = [ "generate-litellm-secrets.service" ];
          before = [ "redis-litellm.service" ];
          environment = {
            LITELLM_REDIS_EXPORTER_PASSWORD_FILE = cfg.secrets.redisExporterPasswordFile;
            LITELLM_EXPORTER_ENV_FILE = exporterEnvFile;
            LITELLM_REDIS_ACL_FILE = aclFile;
            LITELLM_REDIS_ACL_GROUP = redisGroup;
            LITELLM_REDIS_EXPORTER_USER = exporterUser;
          };
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
            UMask = "0077";
            ExecStart = lib.getExe exporterEnvScript;
          };
        };

        redis-litellm = {
          requires = [ "litellm-redis-exporter-env.service" ];
          after = [ "litellm-redis-exporter-env.service" ];
        };

        prometheus-redis-exporter = {
          requires = [ "litellm-redis-exporter-env.service" ];
          after = [
            "litellm-redis-exporter-env.service"
            "redis-litellm.service"
          ];
          serviceConfig.EnvironmentFile = exporterEnvFile;
        };
      })
      (lib.mkIf postgresExporter {
        prometheus-postgres-exporter.after = [ "postgresql.target" ];
      })
    ];
  };
}
