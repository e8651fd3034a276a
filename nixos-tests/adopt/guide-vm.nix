# The LiteLLM VM as the TAPPaaS install guide (litellm.nix v1.85.0) sets it
# up, for the adoption test: PostgreSQL 17 with `trust`, Redis without a
# password (AOF on), a secrets file holding only LITELLM_MASTER_KEY, the
# guide's config.yaml, units and backups. Active only while
# `tappaas.litellm.enable` is false, so a specialisation that enables the
# module replaces all of it, as a deploy of this flake onto such a VM does.
#
# Left out: what has nothing to do with LiteLLM (boot loader, networking,
# users, packages, cleanup-backups' monthly `find -delete`). The image is
# the project's pinned one, loaded offline (the guide pulls
# docker.io/litellm/litellm:v1.85.0); 2 workers instead of 4 to fit the
# test VM.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  redisPkg = pkgs.redis;
in
{
  config = lib.mkIf (!config.tappaas.litellm.enable) {
    services.postgresql = {
      enable = true;
      package = pkgs.postgresql_17;
      ensureDatabases = [ "litellm" ];
      ensureUsers = [
        {
          name = "litellm";
          ensureDBOwnership = true;
        }
      ];
      authentication = lib.mkOverride 10 ''
        local all all trust
        host all all 127.0.0.1/32 trust
        host all all ::1/128 trust
      '';
      settings = {
        max_connections = 100;
        shared_buffers = "1GB";
        effective_cache_size = "2GB";
        maintenance_work_mem = "256MB";
        work_mem = "16MB";
        checkpoint_completion_target = 0.9;
        wal_buffers = "16MB";
        default_statistics_target = 100;
        random_page_cost = 1.1;
        effective_io_concurrency = 200;
        wal_level = "replica";
        archive_mode = "off";
      };
    };

    services.redis.servers.litellm = {
      enable = true;
      port = 6379;
      bind = "127.0.0.1";
      settings = {
        maxmemory = "512mb";
        maxmemory-policy = "allkeys-lru";
        maxclients = 10000;
        timeout = 300;
        tcp-keepalive = 60;
        appendonly = "yes";
        appendfsync = "everysec";
      };
      save = [
        [
          900
          1
        ]
        [
          300
          10
        ]
        [
          60
          10000
        ]
      ];
    };

    virtualisation.podman.enable = true;
    virtualisation.oci-containers.backend = "podman";

    environment.etc."litellm/config.yaml" = {
      text = ''
        general_settings:
          master_key: os.environ/LITELLM_MASTER_KEY
          database_url: "postgresql://litellm@localhost:5432/litellm"
          database_connection_pool_limit: 25
          database_connection_timeout: 60
          proxy_batch_write_at: 60
          disable_spend_logs: false
          public_routes:
            - "/health"
            - "/health/liveliness"
            - "/health/readiness"

        router_settings:
          redis_host: "localhost"
          redis_port: 6379
          routing_strategy: "simple-shuffle"

        litellm_settings:
          cache: true
          cache_type: "redis"
          cache_params:
            type: "redis"
            host: "localhost"
            port: 6379
            max_connections: 100
          load_models_from_db: true
          set_verbose: true
          json_logs: true
          request_timeout: 60
          max_retries: 3
          log_raw_request_response: false
      '';
      mode = "0644";
    };

    systemd.services.generate-litellm-secrets = {
      description = "Generate LiteLLM secrets if missing";
      wantedBy = [ "multi-user.target" ];
      after = [ "local-fs.target" ];
      before = [ "podman-litellm.service" ];
      unitConfig.ConditionPathExists = "!/etc/secrets/litellm.env";
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = pkgs.writeShellScript "generate-litellm-secrets" ''
          MASTER_KEY="sk-$(${pkgs.openssl}/bin/openssl rand -hex 32)"
          mkdir -p /etc/secrets
          cat > /etc/secrets/litellm.env <<EOF
          LITELLM_MASTER_KEY=$MASTER_KEY
          EOF
          chmod 600 /etc/secrets/litellm.env
          echo "================================================"
          echo "LITELLM MASTER KEY (save this!):"
          echo "$MASTER_KEY"
          echo "================================================"
          echo "Saved to: /etc/secrets/litellm.env"
        '';
      };
    };

    virtualisation.oci-containers.containers.litellm = {
      inherit (config.tappaas.litellm) image imageFile;
      pull = "never";
      volumes = [ "/etc/litellm/config.yaml:/app/config.yaml:ro" ];
      environment.STORE_MODEL_IN_DB = "True";
      environmentFiles = [ "/etc/secrets/litellm.env" ];
      extraOptions = [ "--network=host" ];
      cmd = [
        "--config"
        "/app/config.yaml"
        "--port"
        "4000"
        "--host"
        "0.0.0.0"
        "--num_workers"
        "2"
      ];
    };

    systemd.services.podman-litellm = {
      after = [
        "postgresql.service"
        "redis-litellm.service"
      ];
      requires = [
        "postgresql.service"
        "redis-litellm.service"
      ];
    };

    services.postgresqlBackup = {
      enable = true;
      databases = [ "litellm" ];
      startAt = "*-*-* 02:00:00";
      location = "/var/backup/postgresql";
      compression = "gzip";
    };

    systemd.services.redis-backup = {
      description = "Redis backup service";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = pkgs.writeShellScript "redis-backup" ''
          ${redisPkg}/bin/redis-cli SAVE
          ${pkgs.coreutils}/bin/cp /var/lib/redis-litellm/dump.rdb \
            /var/backup/redis/dump-$(${pkgs.coreutils}/bin/date +%Y%m%d_%H%M%S).rdb
        '';
        User = "redis-litellm";
        Group = "redis-litellm";
      };
    };
    systemd.timers.redis-backup = {
      description = "Daily Redis backup timer";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = "*-*-* 02:30:00";
        Persistent = true;
      };
    };

    systemd.services.litellm-env-backup = {
      description = "Backup LiteLLM environment files";
      serviceConfig = {
        Type = "oneshot";
        ExecStartPre = "${pkgs.coreutils}/bin/mkdir -p /var/backup/litellm-env";
        ExecStart = pkgs.writeShellScript "litellm-env-backup" ''
          ${pkgs.gnutar}/bin/tar -czf /var/backup/litellm-env/litellm-env-$(date +%F).tar.gz \
            -C / etc/secrets etc/litellm 2>/dev/null || true
        '';
        User = "root";
        Group = "root";
      };
    };
    systemd.timers.litellm-env-backup = {
      description = "Daily LiteLLM environment file backup";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = "*-*-* 02:45:00";
        Persistent = true;
      };
    };

    systemd.tmpfiles.rules = [
      "d /var/backup/postgresql 0700 postgres postgres -"
      "d /var/backup/redis 0755 redis-litellm redis-litellm -"
      "d /var/backup/litellm-env 0755 root root -"
    ];
  };
}
