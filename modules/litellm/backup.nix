# Daily backups of the database, Redis and the secrets file with the
# configuration, their retention, the `litellm-restore` command, and the
# steps of an upgrade (`litellm-upgrade-helper`).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;
  bcfg = cfg.backup;
  db = cfg.database;

  dirs = {
    postgresql = "${bcfg.directory}/postgresql";
    redis = "${bcfg.directory}/redis";
    env = "${bcfg.directory}/litellm-env";
  };

  # The rendered configuration as container.nix puts it on the VM.
  configPath = "/etc/litellm/config.yaml";

  mkScript = import ./lib/mk-script.nix pkgs;

  pruneScript = mkScript "litellm-backup-prune" [
    pkgs.coreutils
    pkgs.findutils
  ];

  backupPostgresql = mkScript "litellm-backup-postgresql" [
    db.package
    pkgs.coreutils
    pruneScript
  ];

  backupRedis = mkScript "litellm-backup-redis" [
    config.services.redis.package
    pkgs.coreutils
    pkgs.gnugrep
    pruneScript
  ];

  backupEnv = mkScript "litellm-backup-env" [
    pkgs.coreutils
    pkgs.gnutar
    pkgs.gzip
    pruneScript
  ];

  # libpq connection: the local server through its socket as the superuser
  # (root is mapped to postgres, see postgresql.nix: the backup root is
  # root-only, so the backups run as root), or the external server as the
  # LiteLLM role with the password of the secrets file.
  pgEnvironment =
    if db.createLocally then
      {
        PGHOST = "/run/postgresql";
        PGPORT = toString db.port;
        PGUSER = "postgres";
      }
    else
      {
        PGHOST = db.host;
        PGPORT = toString db.port;
        PGUSER = db.user;
      };

  commonEnvironment = {
    LITELLM_DB_USER = db.user;
    BACKUP_ROOT = bcfg.directory;
    BACKUP_RETENTION_DAYS = toString bcfg.retentionDays;
  };

  restoreEnvironment = pgEnvironment // {
    LITELLM_DB_USER = db.user;
    BACKUP_ROOT = bcfg.directory;
    LITELLM_DB_NAME = db.name;
    # psql and pg_restore never run as root: a plain SQL dump is a psql
    # script. The local server's own user (peer on the socket); with an
    # external server, which has no such user here, `nobody` with the
    # password of the secrets file.
    LITELLM_PG_RUNAS = if db.createLocally then "postgres" else "nobody";
    REDIS_HOST = cfg.redis.host;
    REDIS_PORT = toString cfg.redis.port;
    LITELLM_ENV_FILE = cfg.secrets.file;
  };

  restoreScript = mkScript "litellm-restore" [
    db.package
    config.services.redis.package
    config.systemd.package
    pkgs.coreutils
    pkgs.findutils
    pkgs.gawk
    pkgs.gnugrep
    pkgs.gnused
    pkgs.gzip
    pkgs.util-linux
  ];

  # What `tappaas-litellm upgrade` runs on the VM (it sends the flake's copy
  # of the file, so older VMs run it too); installed for admins who take the
  # steps by hand, e.g. `sudo litellm-upgrade-helper state`.
  upgradeHelper = mkScript "litellm-upgrade-helper" [
    db.package
    config.systemd.package
    config.nix.package
    pkgs.coreutils
    pkgs.diffutils
    pkgs.findutils
    pkgs.gnugrep
    pkgs.util-linux
  ];

  # The command on the VM: the module's values become defaults that the
  # caller's environment can still override.
  restoreCommand = pkgs.writeShellApplication {
    name = "litellm-restore";
    text =
      lib.concatStrings (
        lib.mapAttrsToList (name: value: ''
          if [ -z "''${${name}+set}" ]; then export ${name}=${lib.escapeShellArg value}; fi
        '') restoreEnvironment
      )
      + ''
        exec ${lib.getExe restoreScript} "$@"
      '';
  };

  mkTimer = unit: calendar: {
    description = "Schedule of ${unit}";
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnCalendar = calendar;
      Persistent = true;
      Unit = "${unit}.service";
    };
  };

  backupServiceConfig = {
    Type = "oneshot";
    UMask = "0077";
  };
in
{
  config = lib.mkIf ((cfg.enable || cfg.datastore.enable) && bcfg.enable) {
    systemd.tmpfiles.rules = [
      "d ${bcfg.directory} 0700 root root - -"
      # root's, like the others (the install guide's belonged to postgres):
      # the backups run as root and nothing else writes there.
      "d ${dirs.postgresql} 0700 root root - -"
      "d ${dirs.redis} 0700 root root - -"
      "d ${dirs.env} 0700 root root - -"
    ];

    environment.systemPackages = [
      restoreCommand
      upgradeHelper
    ];

    systemd.services.litellm-backup-postgresql = {
      description = "Dump the LiteLLM PostgreSQL database";
      requires = lib.optional db.createLocally "postgresql.target";
      after = lib.optional db.createLocally "postgresql.target";
      environment =
        commonEnvironment
        // pgEnvironment
        // {
          BACKUP_DIR = dirs.postgresql;
          LITELLM_DB_NAME = db.name;
        };
      serviceConfig =
        backupServiceConfig
        // lib.optionalAttrs (!db.createLocally) { EnvironmentFile = cfg.secrets.file; }
        // {
          ExecStart = lib.getExe backupPostgresql;
        };
    };

    systemd.services.litellm-backup-redis = {
      description = "Snapshot the LiteLLM Redis";
      requires = lib.optional cfg.redis.createLocally "redis-litellm.service";
      after = lib.optional cfg.redis.createLocally "redis-litellm.service";
      environment = commonEnvironment // {
        BACKUP_DIR = dirs.redis;
        REDIS_HOST = cfg.redis.host;
        REDIS_PORT = toString cfg.redis.port;
        LITELLM_ENV_FILE = cfg.secrets.file;
      };
      serviceConfig = backupServiceConfig // {
        ExecStart = lib.getExe backupRedis;
      };
    };

    systemd.services.litellm-backup-env = {
      description = "Archive the LiteLLM secrets file and configuration";
      requires = [ "generate-litellm-secrets.service" ];
      after = [ "generate-litellm-secrets.service" ];
      environment = commonEnvironment // {
        BACKUP_DIR = dirs.env;
        LITELLM_ENV_FILE = cfg.secrets.file;
        # A datastore has no LiteLLM configuration: the secrets file alone.
        LITELLM_CONFIG_FILE = if cfg.enable then configPath else "";
      };
      serviceConfig = backupServiceConfig // {
        ExecStart = lib.getExe backupEnv;
      };
    };

    systemd.timers = {
      litellm-backup-postgresql = mkTimer "litellm-backup-postgresql" bcfg.schedule.postgresql;
      litellm-backup-redis = mkTimer "litellm-backup-redis" bcfg.schedule.redis;
      litellm-backup-env = mkTimer "litellm-backup-env" bcfg.schedule.env;
    };
  };
}
