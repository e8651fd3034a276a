# The local PostgreSQL server of LiteLLM: database and role, the role's
# password from the secrets file, memory settings, and a guard against
# starting an empty cluster after a change of major version.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;
  db = cfg.database;

  mkScript = import ./lib/mk-script.nix pkgs;

  # python3 computes the SCRAM-SHA-256 verifier (hashlib); it is in every
  # NixOS 25.11 system already (nixos-rebuild-ng).
  passwordScript = mkScript "litellm-postgresql-password" [
    db.package
    pkgs.coreutils
    pkgs.python3
  ];

  guardScript = mkScript "litellm-postgresql-guard" [ pkgs.coreutils ];
in
{
  config = lib.mkIf ((cfg.enable && db.createLocally) || cfg.datastore.enable) {
    services.postgresql = {
      enable = true;
      package = db.package;
      ensureDatabases = [ db.name ];
      ensureUsers = [
        {
          name = db.user;
          ensureDBOwnership = true;
        }
      ];
      # Password login over TCP for LiteLLM's role only; everything else keeps
      # the NixOS defaults below (peer on the socket, md5 on loopback).
      authentication = ''
        host ${db.name} ${db.user} 127.0.0.1/32 scram-sha-256
        host ${db.name} ${db.user} ::1/128 scram-sha-256
      '';
      # root may connect as the superuser over the socket (peer): the backup
      # directory is root-only, so pg_dump runs as root. litellm-restore runs
      # psql and pg_restore as postgres (a dump is never run as root).
      identMap = ''
        postgres root postgres
      '';
      settings = {
        port = db.port;
        max_connections = lib.mkDefault db.maxConnections;
        shared_buffers = lib.mkDefault db.sharedBuffers;
        effective_cache_size = lib.mkDefault db.effectiveCacheSize;
        work_mem = lib.mkDefault db.workMem;
        maintenance_work_mem = lib.mkDefault db.maintenanceWorkMem;
        password_encryption = lib.mkDefault "scram-sha-256";
      };
    };

    # ensureUsers creates the role without a password; LiteLLM connects over
    # TCP, where pg_hba asks for one. Sets it from the secrets file at every
    # boot, so a restored or rotated DATABASE_PASSWORD always matches. Only
    # the SCRAM verifier reaches the server, and the unit sees DATABASE_PASSWORD
    # alone (a credential), not the master and salt keys.
    systemd.services.litellm-postgresql-password = {
      description = "Set the password of the LiteLLM PostgreSQL role";
      wantedBy = [ "multi-user.target" ];
      requires = [
        "postgresql.target"
        "generate-litellm-secrets.service"
      ];
      after = [
        "postgresql.target"
        "generate-litellm-secrets.service"
      ];
      before = lib.optional cfg.enable "podman-litellm.service";
      environment = {
        LITELLM_DB_USER = db.user;
        PGHOST = "/run/postgresql";
        PGPORT = toString db.port;
        PGDATABASE = "postgres";
      };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        User = "postgres";
        Group = "postgres";
        LoadCredential = "database-password:${cfg.secrets.databasePasswordFile}";
        ExecStart = lib.getExe passwordScript;
      };
    };

    # The data directory carries the major version: a new package would start
    # an empty cluster next to the old one. Stops PostgreSQL with instructions
    # instead.
    systemd.services.litellm-postgresql-guard = {
      description = "Check that PostgreSQL does not start empty after a major version change";
      requiredBy = [ "postgresql.service" ];
      before = [ "postgresql.service" ];
      environment = {
        PG_DATA_DIR = config.services.postgresql.dataDir;
        PG_MAJOR = db.package.psqlSchema;
      };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = lib.getExe guardScript;
      };
    };
  };
}
