# The secrets of LiteLLM, generated once at first boot into an environment
# file outside the Nix store.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;

  secretsScript = import ./lib/mk-script.nix pkgs "litellm-secrets" [
    pkgs.coreutils
    pkgs.gnugrep
  ];
in
{
  config = lib.mkIf (cfg.enable || cfg.datastore.enable) {
    systemd.tmpfiles.rules = [ "d ${builtins.dirOf cfg.secrets.file} 0700 root root - -" ];

    # Never overwrites an existing variable (LITELLM_SALT_KEY must never
    # change); appends the ones an older file lacks. A file holding the master
    # key but no salt key (the install guide's) gets the master key's value as
    # salt key: LiteLLM has encrypted stored provider keys with it so far.
    systemd.services.generate-litellm-secrets = {
      description = "Generate the LiteLLM secrets file if it or a variable is missing";
      wantedBy = [ "multi-user.target" ];
      before =
        lib.optional cfg.enable "podman-litellm.service"
        ++ lib.optional cfg.redis.createLocally "redis-litellm.service"
        ++ lib.optional cfg.database.createLocally "litellm-postgresql-password.service";
      environment = {
        LITELLM_ENV_FILE = cfg.secrets.file;
        LITELLM_REDIS_PASSWORD_FILE = cfg.secrets.redisPasswordFile;
        LITELLM_DATABASE_PASSWORD_FILE = cfg.secrets.databasePasswordFile;
      }
      // lib.optionalAttrs (!cfg.database.createLocally && cfg.database.passwordFile != null) {
        LITELLM_DB_PASSWORD_SOURCE = cfg.database.passwordFile;
      }
      // lib.optionalAttrs (!cfg.redis.createLocally && cfg.redis.passwordFile != null) {
        LITELLM_REDIS_PASSWORD_SOURCE = cfg.redis.passwordFile;
      };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        UMask = "0077";
        ExecStart = lib.getExe secretsScript;
      };
    };
  };
}
