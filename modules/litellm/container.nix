# LiteLLM itself: the podman container `litellm` (unit podman-litellm.service)
# on the host network, with the rendered configuration and the secrets file.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;

  # With an image archive: load it once, not at every start (nixpkgs'
  # oci-containers would run `podman load` in every preStart; README,
  # "The container", has the measurement).
  imageLoad = import ./lib/mk-script.nix pkgs "litellm-image-load" [
    config.virtualisation.podman.package
    pkgs.coreutils
  ];

  environment = import ./lib/environment.nix {
    databaseHost = cfg.database.host;
    databasePort = cfg.database.port;
    databaseName = cfg.database.name;
    databaseUser = cfg.database.user;
    redisHost = cfg.redis.host;
    redisPort = cfg.redis.port;
    extra = cfg.environment;
  };

  args = import ./lib/container-args.nix {
    inherit (cfg)
      listenAddress
      port
      workers
      maxRequestsBeforeRestart
      ;
  };

  # The upgrade's hold (modules/litellm/scripts/litellm-upgrade-helper.sh).
  holdFile = import ./lib/upgrade-hold.nix;

  # Units LiteLLM cannot start without.
  dependencies = [
    "generate-litellm-secrets.service"
  ]
  ++ lib.optionals cfg.database.createLocally [
    "postgresql.target"
    "litellm-postgresql-password.service"
  ]
  ++ lib.optional cfg.redis.createLocally "redis-litellm.service";
in
{
  config = lib.mkIf cfg.enable {
    virtualisation.oci-containers.backend = "podman";

    virtualisation.oci-containers.containers.litellm = {
      # No imageFile here: litellm-image-load (ExecStartPre below) loads it.
      inherit (cfg) image;
      # With an image file, a name mismatch must fail instead of pulling.
      pull = if cfg.imageFile != null then "never" else "missing";
      # Non-secret values only: this ends up in the Nix store.
      inherit environment;
      # Secrets only through files read at start.
      environmentFiles = [ cfg.secrets.file ] ++ cfg.environmentFiles;
      volumes = [ "${cfg.configFile}:/app/config.yaml:ro" ];
      inherit (args) cmd extraOptions;
      log-driver = "journald";
    };

    # For admins and the backup; it holds no secrets.
    environment.etc."litellm/config.yaml".source = cfg.configFile;

    systemd.services.podman-litellm = {
      requires = dependencies;
      after = dependencies;
      # `litellm-upgrade-helper stop` writes this file and `start` removes it:
      # during an upgrade nothing starts LiteLLM, neither switch-to-configuration
      # (it starts what active targets want) nor a restore, until the tool has
      # checked the restore. (`systemctl mask --runtime` cannot do this on NixOS:
      # the unit file in /etc/systemd/system outranks a mask in /run.)
      unitConfig.ConditionPathExists = "!${holdFile}";
      serviceConfig = {
        # The module restarts the container always; space the attempts while
        # the database comes up.
        RestartSec = "10s";
      }
      // lib.optionalAttrs (cfg.imageFile != null) {
        # Runs with the module's own pre-start (which removes an old container).
        ExecStartPre = [
          "${lib.getExe imageLoad} ${cfg.imageFile} ${lib.escapeShellArg cfg.image}"
        ];
        # /var/lib/litellm-image (root's): what litellm-image-load loaded.
        StateDirectory = "litellm-image";
      };
    };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];
  };
}
