# The local Redis server of LiteLLM: `redis-litellm` on loopback, password
# from the secrets file, bounded memory with LRU eviction, AOF and RDB.
{ config, lib, ... }:
let
  cfg = config.tappaas.litellm;
in
{
  config = lib.mkIf ((cfg.enable && cfg.redis.createLocally) || cfg.datastore.enable) {
    services.redis.servers.litellm = {
      enable = true;
      # A named server listens on no TCP port unless one is set.
      port = cfg.redis.port;
      # A datastore (datastore.nix) adds its zone address.
      bind = lib.mkDefault cfg.redis.host;
      # A string, so the password file is read on the VM, never copied into
      # the store.
      requirePassFile = cfg.secrets.redisPasswordFile;
      appendOnly = true;
      appendFsync = "everysec";
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
      settings = {
        maxmemory = cfg.redis.maxMemory;
        maxmemory-policy = "allkeys-lru";
      };
    };

    # The password file is written by the secrets unit.
    systemd.services.redis-litellm = {
      requires = [ "generate-litellm-secrets.service" ];
      after = [ "generate-litellm-secrets.service" ];
    };
  };
}
