# TAPPaaS LiteLLM gateway: options of `tappaas.litellm` and the files that
# implement them, one per concern.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;

  settingsFormat = pkgs.formats.yaml { };

  sizing = import ./lib/sizing.nix;

  # Database connections per worker as LiteLLM will use them: the pool limit
  # in the settings (which default to database.poolLimit).
  effectivePoolLimit =
    cfg.settings.general_settings.database_connection_pool_limit or cfg.database.poolLimit;

  # Connections all LiteLLM workers together may open.
  poolConnections = cfg.workers * effectivePoolLimit;

  derived = sizing {
    inherit (cfg.resources) cores memoryMiB;
    inherit (cfg) workers;
    poolLimit = effectivePoolLimit;
  };

  # Gives every leaf of the base configuration the priority of lib.mkDefault,
  # so a host can replace any single value without restating the rest.
  mkDefaultLeaves =
    value:
    if builtins.isAttrs value then
      lib.mapAttrs (_: mkDefaultLeaves) value
    else
      lib.mkDefault value;

  baseSettings = lib.importJSON ./base-config.json;

  # The pinned LiteLLM image (also used by the VM tests to load it offline).
  pin = lib.importJSON ./image.json;

  mkSection =
    description:
    lib.mkOption {
      type = settingsFormat.type;
      default = { };
      inherit description;
    };

  modelType = lib.types.submodule {
    freeformType = settingsFormat.type;
    options = {
      model_name = lib.mkOption {
        type = lib.types.str;
        example = "gpt-4o";
        description = "Name clients use for this model.";
      };
      litellm_params = lib.mkOption {
        type = lib.types.submodule {
          freeformType = settingsFormat.type;
          options.model = lib.mkOption {
            type = lib.types.str;
            example = "openai/gpt-4o";
            description = "Provider and model LiteLLM calls, as `<provider>/<model>`.";
          };
        };
        description = ''
          LiteLLM parameters of the model. Keys and other secrets are given as
          `os.environ/NAME`, with NAME set in one of
          {option}`tappaas.litellm.environmentFiles`.
        '';
      };
    };
  };

  # name:tag inside the image archive, as dockerTools records it.
  imageFileRef = "${cfg.imageFile.imageName or "?"}:${cfg.imageFile.imageTag or "?"}";

  loopbackHosts = [
    "127.0.0.1"
    "::1"
  ];

  # "name:tag" with no digest; the registry part may carry a port.
  imageHasTagWithoutDigest =
    image:
    let
      lastPart = lib.last (lib.splitString "/" image);
    in
    !(lib.hasInfix "@" image) && lib.hasInfix ":" lastPart;
in
{
  imports = [
    ./postgresql.nix
    ./redis.nix
    ./container.nix
    ./secrets.nix
    ./backup.nix
    ./service-keys.nix
    ./metrics.nix
    ./logging.nix
    ./datastore.nix
  ];

  options.tappaas.litellm = {
    enable = lib.mkEnableOption "the TAPPaaS LiteLLM gateway with PostgreSQL, Redis and backups";

    port = lib.mkOption {
      type = lib.types.port;
      default = 4000;
      description = "TCP port LiteLLM listens on.";
    };

    listenAddress = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1";
      example = "0.0.0.0";
      description = ''
        Address LiteLLM listens on. The container shares the host's network,
        so this is an address of the VM. TAPPaaS hosts set `"0.0.0.0"` together
        with {option}`tappaas.litellm.openFirewall`.
      '';
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Whether to open {option}`tappaas.litellm.port` in
        {option}`networking.firewall.allowedTCPPorts`.
      '';
    };

    image = lib.mkOption {
      type = lib.types.str;
      default = "${pin.imageName}:${pin.finalImageTag}@${pin.imageDigest}";
      defaultText = lib.literalExpression ''"ghcr.io/berriai/litellm-database:v1.89.3@sha256:598664e0bed053e774d5dbd18745ddce890e8c6909390ccf669beae443a9d984"'';
      example = "ghcr.io/berriai/litellm-database:v1.89.3";
      description = ''
        Container image of LiteLLM, pinned by digest so a re-tagged image can
        never slip in. With {option}`tappaas.litellm.imageFile` this must be
        the `name:tag` inside that file, without a digest.
      '';
    };

    imageFile = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      default = null;
      example = lib.literalExpression ''
        pkgs.dockerTools.pullImage {
          imageName = "ghcr.io/berriai/litellm-database";
          imageDigest = "sha256:598664e0bed053e774d5dbd18745ddce890e8c6909390ccf669beae443a9d984";
          hash = "sha256-/9K1dpdydpAeL1G3FcG+EJYVnwpIff9d6Sb+JTO9pO0=";
          finalImageTag = "v1.89.3";
        }
      '';
      description = ''
        Image archive loaded before the container starts, for hosts without
        registry access and for VM tests. When set, the image is never pulled
        and {option}`tappaas.litellm.image` must be its `name:tag`.
      '';
    };

    resources = {
      cores = lib.mkOption {
        type = lib.types.ints.positive;
        default = 4;
        description = "Virtual CPUs of the VM; the default of {option}`tappaas.litellm.workers` follows it.";
      };

      memoryMiB = lib.mkOption {
        type = lib.types.ints.positive;
        default = 4096;
        description = ''
          Memory of the VM in MiB. The PostgreSQL memory settings, the Redis
          memory limit and the number of workers are derived from it
          (see `modules/litellm/lib/sizing.nix`).
        '';
      };
    };

    workers = lib.mkOption {
      type = lib.types.ints.positive;
      default = (sizing { inherit (cfg.resources) cores memoryMiB; }).workers;
      defaultText = lib.literalExpression ''
        (import ./lib/sizing.nix {
          inherit (config.tappaas.litellm.resources) cores memoryMiB;
        }).workers
      '';
      description = ''
        LiteLLM worker processes (`--num_workers`): one per core, as far as
        the memory left after PostgreSQL, Redis and the system allows (about
        512 MiB each). Every worker opens up to
        {option}`tappaas.litellm.database.poolLimit` database connections.
      '';
    };

    maxRequestsBeforeRestart = lib.mkOption {
      type = lib.types.nullOr lib.types.ints.positive;
      default = null;
      example = 10000;
      description = ''
        Replace a worker after this many requests
        (`--max_requests_before_restart`), which bounds LiteLLM's memory
        growth; `null` never replaces workers. Needs at least two
        {option}`tappaas.litellm.workers`: uvicorn replaces a worker that
        reached the limit only when it supervises two or more, while a single
        worker ends LiteLLM and its container. Off by default: workers that
        share the load reach the limit at about the same time, and the
        gateway refuses requests until their replacements have started
        (several seconds each). Set it when the workers' memory keeps growing.
      '';
    };

    settings = lib.mkOption {
      type = lib.types.submodule {
        freeformType = settingsFormat.type;
        options = {
          model_list = lib.mkOption {
            type = lib.types.listOf modelType;
            default = [ ];
            description = "Models served by the gateway. Models added in the UI are kept in the database.";
          };
          general_settings = mkSection "LiteLLM `general_settings`.";
          litellm_settings = mkSection "LiteLLM `litellm_settings`.";
          router_settings = mkSection "LiteLLM `router_settings`.";
        };
      };
      default = { };
      example = lib.literalExpression ''
        {
          model_list = [
            {
              model_name = "gpt-4o";
              litellm_params = {
                model = "openai/gpt-4o";
                api_key = "os.environ/OPENAI_API_KEY";
              };
            }
          ];
          litellm_settings.request_timeout = 300;
        }
      '';
      description = ''
        LiteLLM configuration (`config.yaml`), merged over
        `modules/litellm/base-config.json`, every value of which has the
        priority of `lib.mkDefault`. Secrets and connection details are
        written as `os.environ/NAME`, never as literals: the values come from
        {option}`tappaas.litellm.secrets.file` and
        {option}`tappaas.litellm.environmentFiles`.
      '';
    };

    configFile = lib.mkOption {
      type = lib.types.package;
      readOnly = true;
      default = settingsFormat.generate "litellm-config.yaml" cfg.settings;
      defaultText = lib.literalExpression ''
        (pkgs.formats.yaml { }).generate "litellm-config.yaml" config.tappaas.litellm.settings
      '';
      description = "The rendered LiteLLM configuration, mounted as `/app/config.yaml` and archived by the backup.";
    };

    environment = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      example = {
        LITELLM_LOG = "ERROR";
      };
      description = ''
        Extra non-secret environment variables of the container. They are
        stored world-readable in the Nix store: put secrets in
        {option}`tappaas.litellm.environmentFiles`.
      '';
    };

    environmentFiles = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "/etc/secrets/litellm-providers.env" ];
      description = ''
        Extra environment files of the container (for example provider API
        keys referenced as `os.environ/NAME`), as absolute paths on the VM.
        They are strings on purpose: a Nix path would be copied into the
        world-readable store.
      '';
    };

    database = {
      createLocally = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = ''
          Whether to run PostgreSQL on this VM with database
          {option}`tappaas.litellm.database.name` owned by role
          {option}`tappaas.litellm.database.user`, whose password comes from
          the secrets file. When false, an existing server is used.
        '';
      };

      host = lib.mkOption {
        type = lib.types.str;
        default = "127.0.0.1";
        description = "Host of the PostgreSQL server; a loopback address when the database is created locally.";
      };

      port = lib.mkOption {
        type = lib.types.port;
        default = 5432;
        description = "TCP port of the PostgreSQL server.";
      };

      name = lib.mkOption {
        type = lib.types.str;
        default = "litellm";
        description = "Name of the database.";
      };

      user = lib.mkOption {
        type = lib.types.str;
        default = "litellm";
        description = "Role LiteLLM connects as. With a local database it must equal the database name.";
      };

      passwordFile = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "/etc/secrets/litellm-db.pass";
        description = ''
          File on the VM holding the password of an existing server's role
          (one line). Required when
          {option}`tappaas.litellm.database.createLocally` is false; its value
          is copied into the secrets file as `DATABASE_PASSWORD`. Local
          databases get a generated password instead.
        '';
      };

      package = lib.mkPackageOption pkgs "postgresql_17" {
        extraDescription = ''
          Pinned on purpose: the data directory carries the major version, so
          a new major version would start with an empty cluster. Changing it
          goes through `tappaas-litellm upgrade NAME --postgresql` (a checked dump,
          restored into the new cluster, the old data directory kept); the unit
          `litellm-postgresql-guard` stops PostgreSQL with instructions when
          it finds data of another major version.
        '';
      };

      poolLimit = lib.mkOption {
        type = lib.types.ints.positive;
        default = 10;
        description = ''
          Database connections per LiteLLM worker
          (`general_settings.database_connection_pool_limit`).
        '';
      };

      maxConnections = lib.mkOption {
        type = lib.types.ints.positive;
        default = derived.postgresql.maxConnections;
        defaultText = lib.literalMD "`workers * poolLimit + 20`, at least 100";
        description = ''
          PostgreSQL `max_connections`. LiteLLM opens up to
          {option}`tappaas.litellm.workers` times
          {option}`tappaas.litellm.database.poolLimit` connections; 10 more stay
          free for the superuser, backups and restores.
        '';
      };

      sharedBuffers = lib.mkOption {
        type = lib.types.str;
        default = derived.postgresql.sharedBuffers;
        defaultText = lib.literalMD "`memoryMiB / 4` MB";
        description = "PostgreSQL `shared_buffers` (about 25 % of the VM's memory).";
      };

      effectiveCacheSize = lib.mkOption {
        type = lib.types.str;
        default = derived.postgresql.effectiveCacheSize;
        defaultText = lib.literalMD "`memoryMiB / 2` MB";
        description = "PostgreSQL `effective_cache_size` (about 50 % of the VM's memory; LiteLLM and Redis share the VM).";
      };

      workMem = lib.mkOption {
        type = lib.types.str;
        default = derived.postgresql.workMem;
        defaultText = lib.literalMD "derived from `memoryMiB` and `maxConnections`, at least 4 MB";
        description = "PostgreSQL `work_mem`.";
      };

      maintenanceWorkMem = lib.mkOption {
        type = lib.types.str;
        default = derived.postgresql.maintenanceWorkMem;
        defaultText = lib.literalMD "`memoryMiB / 16` MB, between 64 MB and 1024 MB";
        description = "PostgreSQL `maintenance_work_mem`.";
      };
    };

    redis = {
      createLocally = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = ''
          Whether to run the Redis server `redis-litellm` on this VM (loopback
          only, password from the secrets file). When false, an existing
          Redis is used.
        '';
      };

      host = lib.mkOption {
        type = lib.types.str;
        default = "127.0.0.1";
        description = "Host of the Redis server; a loopback address when Redis runs locally.";
      };

      port = lib.mkOption {
        type = lib.types.port;
        default = 6379;
        description = "TCP port of the Redis server.";
      };

      passwordFile = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "/etc/secrets/litellm-redis-external.pass";
        description = ''
          File on the VM holding the password of an existing Redis (one line).
          Required when {option}`tappaas.litellm.redis.createLocally` is false;
          its value is copied into the secrets file as `REDIS_PASSWORD`.
        '';
      };

      maxMemory = lib.mkOption {
        type = lib.types.str;
        default = derived.redis.maxMemory;
        defaultText = lib.literalMD "`memoryMiB / 8` MB (`\"512mb\"` at 4096 MiB)";
        description = "Redis `maxmemory` of the local server (evicting with `allkeys-lru`).";
      };
    };

    secrets = {
      file = lib.mkOption {
        type = lib.types.str;
        default = "/etc/secrets/litellm.env";
        description = ''
          Environment file (mode 0600, root) created at first boot by
          `generate-litellm-secrets.service`: `LITELLM_MASTER_KEY`,
          `LITELLM_SALT_KEY`, `DATABASE_PASSWORD`, `REDIS_PASSWORD`,
          `UI_USERNAME`, `UI_PASSWORD`. An existing file is never overwritten;
          missing variables are appended. Never change `LITELLM_SALT_KEY`: it
          encrypts the provider keys stored in the database.
        '';
      };

      redisPasswordFile = lib.mkOption {
        type = lib.types.str;
        default = "/etc/secrets/litellm-redis.pass";
        description = "File (mode 0600, root) holding `REDIS_PASSWORD` alone, read by the local Redis server.";
      };

      redisExporterPasswordFile = lib.mkOption {
        type = lib.types.str;
        default = "/etc/secrets/litellm-redis-exporter.pass";
        description = ''
          File (mode 0600, root) holding the password of the Redis exporter's
          own Redis user (with {option}`tappaas.litellm.metrics.enable` and a
          local Redis), generated once by the secrets unit. The exporter never
          gets `REDIS_PASSWORD`.
        '';
      };

      databasePasswordFile = lib.mkOption {
        type = lib.types.str;
        default = "/etc/secrets/litellm-db.pass";
        description = ''
          File (mode 0600, root) holding `DATABASE_PASSWORD` alone, written by
          the secrets unit; the unit that sets the local PostgreSQL role's
          password gets only this file (systemd `LoadCredential`).
        '';
      };
    };

    backup = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = ''
          Whether to back up the database, Redis and the secrets file with the
          configuration daily, and to install `litellm-restore`.
        '';
      };

      directory = lib.mkOption {
        type = lib.types.str;
        default = "/var/backup";
        description = "Root of the backups: `postgresql/`, `redis/` and `litellm-env/` below it (all mode 0700).";
      };

      retentionDays = lib.mkOption {
        type = lib.types.ints.positive;
        default = 30;
        description = "Backups older than this many days are deleted after each successful backup.";
      };

      schedule = {
        postgresql = lib.mkOption {
          type = lib.types.str;
          default = "*-*-* 02:00:00";
          description = "systemd calendar expression of the PostgreSQL dump.";
        };
        redis = lib.mkOption {
          type = lib.types.str;
          default = "*-*-* 02:30:00";
          description = "systemd calendar expression of the Redis snapshot.";
        };
        env = lib.mkOption {
          type = lib.types.str;
          default = "*-*-* 02:45:00";
          description = "systemd calendar expression of the archive of the secrets file and configuration.";
        };
      };
    };
  };

  config = lib.mkIf cfg.enable {
    tappaas.litellm.settings = lib.mkMerge [
      (mkDefaultLeaves baseSettings)
      {
        general_settings.database_connection_pool_limit = lib.mkOverride 900 cfg.database.poolLimit;
      }
    ];

    assertions = [
      {
        assertion = cfg.maxRequestsBeforeRestart != null -> cfg.workers >= 2;
        message = ''
          tappaas.litellm: tappaas.litellm.maxRequestsBeforeRestart = ${toString cfg.maxRequestsBeforeRestart}
          with a single worker would stop LiteLLM every ${toString cfg.maxRequestsBeforeRestart} requests (uvicorn
          replaces workers only when it runs two or more). Set tappaas.litellm.workers to 2 or more,
          or tappaas.litellm.maxRequestsBeforeRestart = null.
        '';
      }
      {
        assertion = poolConnections + derived.connectionReserve <= cfg.database.maxConnections;
        message = ''
          tappaas.litellm: the LiteLLM workers may open ${toString poolConnections} database connections
          (tappaas.litellm.workers = ${toString cfg.workers} x pool limit ${toString effectivePoolLimit});
          with a reserve of ${toString derived.connectionReserve} for backups and the superuser, that
          exceeds tappaas.litellm.database.maxConnections = ${toString cfg.database.maxConnections}.
          Lower tappaas.litellm.workers or tappaas.litellm.database.poolLimit, or raise
          tappaas.litellm.database.maxConnections (and max_connections of an external server).
        '';
      }
      {
        assertion = cfg.database.createLocally -> cfg.database.name == cfg.database.user;
        message = ''
          tappaas.litellm: a local database is owned by the role of the same name; set
          tappaas.litellm.database.user equal to tappaas.litellm.database.name
          ("${cfg.database.user}" vs "${cfg.database.name}").
        '';
      }
      {
        assertion =
          cfg.database.createLocally
          -> builtins.elem cfg.database.host (loopbackHosts ++ [ "localhost" ]);
        message = ''
          tappaas.litellm: with tappaas.litellm.database.createLocally = true,
          tappaas.litellm.database.host must be 127.0.0.1, ::1 or localhost
          (it is "${cfg.database.host}"); set createLocally = false to use another server.
        '';
      }
      {
        assertion = !cfg.database.createLocally -> cfg.database.passwordFile != null;
        message = ''
          tappaas.litellm: an external database (tappaas.litellm.database.createLocally = false)
          needs tappaas.litellm.database.passwordFile, a file on the VM holding the role's password.
        '';
      }
      {
        assertion = cfg.redis.createLocally -> builtins.elem cfg.redis.host loopbackHosts;
        message = ''
          tappaas.litellm: with tappaas.litellm.redis.createLocally = true,
          tappaas.litellm.redis.host must be 127.0.0.1 or ::1 (it is "${cfg.redis.host}");
          set createLocally = false to use another server.
        '';
      }
      {
        assertion = !cfg.redis.createLocally -> cfg.redis.passwordFile != null;
        message = ''
          tappaas.litellm: an external Redis (tappaas.litellm.redis.createLocally = false)
          needs tappaas.litellm.redis.passwordFile, a file on the VM holding its password.
        '';
      }
      {
        assertion = cfg.imageFile != null -> imageHasTagWithoutDigest cfg.image;
        message = ''
          tappaas.litellm: with tappaas.litellm.imageFile set, tappaas.litellm.image must be the
          name:tag inside that file, without a digest (it is "${cfg.image}"),
          for example "ghcr.io/berriai/litellm-database:v1.89.3".
        '';
      }
      {
        assertion =
          cfg.imageFile != null && cfg.imageFile ? imageName && cfg.imageFile ? imageTag
          -> cfg.image == imageFileRef;
        message = ''
          tappaas.litellm: tappaas.litellm.image ("${cfg.image}") differs from the name:tag
          of tappaas.litellm.imageFile; set it to "${imageFileRef}".
        '';
      }
      {
        assertion =
          let
            masterKey = cfg.settings.general_settings.master_key or "os.environ/LITELLM_MASTER_KEY";
          in
          builtins.isString masterKey && lib.hasPrefix "os.environ/" masterKey;
        message = ''
          tappaas.litellm: tappaas.litellm.settings.general_settings.master_key must be
          "os.environ/<NAME>": a literal key would be stored world-readable in the Nix store.
        '';
      }
      {
        assertion = builtins.all (f: lib.hasPrefix "/" f && !lib.hasPrefix builtins.storeDir f) (
          cfg.environmentFiles ++ [ cfg.secrets.file ]
        );
        message = ''
          tappaas.litellm: tappaas.litellm.environmentFiles and tappaas.litellm.secrets.file must be
          absolute paths outside the Nix store.
        '';
      }
    ];

    # LiteLLM's proxy hands the Redis of its cache to the router, its rate
    # limits and its key cache; router_settings.redis_host would only build a
    # second client to the same Redis.
    warnings =
      let
        litellmSettings = cfg.settings.litellm_settings;
        redisCache =
          (litellmSettings.cache or false) == true
          && (litellmSettings.cache_params.type or null) == "redis";
        routerRedis = cfg.settings.router_settings ? redis_host;
      in
      lib.optional (cfg.workers > 1 && !redisCache && !routerRedis) ''
        tappaas.litellm: ${toString cfg.workers} workers without Redis (set
        tappaas.litellm.settings.litellm_settings.cache = true with cache_params.type = "redis",
        or router_settings.redis_host): rate limits and key revocations only hold per worker.
      '';
  };
}
