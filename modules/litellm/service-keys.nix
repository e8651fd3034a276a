# Service keys: one LiteLLM virtual key per consuming TAPPaaS module
# (Open WebUI, n8n, ...), declared here and reconciled through LiteLLM's API
# by `litellm-service-keys.service`. The keys' plaintext stays root-only on
# this VM (/etc/secrets/litellm-svc-<consumer>.key, TAPPaaS's path);
# `tappaas-litellm service-key` hands one to its consumer.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.tappaas.litellm;

  jsonType = (pkgs.formats.json { }).type;

  keyType = lib.types.submodule {
    options = {
      models = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "gpt-4o" ];
        description = "Models the key may use (`model_name`s); empty allows every model.";
      };
      maxBudget = lib.mkOption {
        type = lib.types.nullOr lib.types.number;
        default = null;
        example = 50;
        description = "Spend limit of the key in USD per {option}`budgetDuration` (or in total); `null` for none.";
      };
      budgetDuration = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "30d";
        description = "How often the spend of the key is reset (`30s`, `30m`, `30h`, `30d`); `null` never.";
      };
      rpmLimit = lib.mkOption {
        type = lib.types.nullOr lib.types.ints.positive;
        default = null;
        example = 60;
        description = "Requests per minute the key may make; `null` for no limit.";
      };
      tpmLimit = lib.mkOption {
        type = lib.types.nullOr lib.types.ints.positive;
        default = null;
        example = 100000;
        description = "Tokens per minute the key may use; `null` for no limit.";
      };
      metadata = lib.mkOption {
        type = jsonType;
        default = { };
        example = {
          team = "automation";
        };
        description = ''
          Metadata stored with the key in LiteLLM (shown in the UI and in
          spend logs). The entry `tappaas_managed_by` is set by the module.
        '';
      };
    };
  };

  # The desired state the reconciler reads; it holds no secret.
  stateFile = pkgs.writeText "litellm-service-keys.json" (
    builtins.toJSON (
      import ./lib/service-keys-state.nix {
        inherit (cfg) serviceKeys;
        prune = cfg.serviceKeysPrune;
      }
    )
  );

  # LiteLLM as seen from this VM.
  localHost =
    if cfg.listenAddress == "0.0.0.0" then
      "127.0.0.1"
    else if cfg.listenAddress == "::" then
      "[::1]"
    else if lib.hasInfix ":" cfg.listenAddress then
      "[${cfg.listenAddress}]"
    else
      cfg.listenAddress;

  serviceKeysCommand = pkgs.writeShellApplication {
    name = "litellm-service-keys";
    runtimeInputs = [ cfg.toolPackage ];
    runtimeEnv = {
      LITELLM_SERVICE_KEYS_STATE = stateFile;
      LITELLM_ENV_FILE = cfg.secrets.file;
      LITELLM_URL = "http://${localHost}:${toString cfg.port}";
      LITELLM_SERVICE_KEYS_DIR = builtins.dirOf cfg.secrets.file;
      LITELLM_DATABASE = cfg.database.name;
    };
    text = builtins.readFile ./scripts/litellm-service-keys.sh;
  };

  consumerNames = builtins.attrNames cfg.serviceKeys;
  badNames = builtins.filter (
    name: builtins.match "[a-z]([a-z0-9-]{0,61}[a-z0-9])?" name == null
  ) consumerNames;
in
{
  options.tappaas.litellm = {
    serviceKeys = lib.mkOption {
      type = lib.types.attrsOf keyType;
      default = { };
      example = lib.literalExpression ''
        {
          openwebui = { models = [ "gpt-4o" ]; maxBudget = 50; budgetDuration = "30d"; };
          n8n = { models = [ "gpt-4o-mini" ]; rpmLimit = 60; };
        }
      '';
      description = ''
        One virtual key per consuming module, named by the consumer's VM name
        (alias `litellm-svc-<name>`, as TAPPaaS names them).
        `litellm-service-keys.service` creates missing keys, updates the
        limits of existing ones (a key is never replaced), and writes each
        new key to `/etc/secrets/litellm-svc-<name>.key` (0600 root). Give a
        key to its consumer with
        `tappaas-litellm service-key <vm> <name> --write-to tappaas@<consumer host>`.
      '';
    };

    serviceKeysPrune = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Whether to delete the keys of consumers removed from
        {option}`tappaas.litellm.serviceKeys`. Only keys the module made are
        deleted; keys made by hand or by `tappaas-litellm service-key --ensure`
        stay. Off, a removed consumer's key keeps working.
      '';
    };

    toolPackage = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ../../generator/package.nix {
        # The VM runs only `service-keys`: none of the admin's deploy and
        # upgrade tools (nixos-rebuild, git, ssh, nix-prefetch-docker, skopeo).
        withDeployTools = false;
        nixos-rebuild-ng = null;
        nix-prefetch-docker = null;
        skopeo = null;
        # Its tests run in the flake's checks (packages.tappaas-litellm).
        runTests = false;
      };
      defaultText = lib.literalExpression "tappaas-litellm from this flake's generator/package.nix";
      description = "The `tappaas-litellm` package whose `service-keys` command reconciles the keys.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = badNames == [ ];
        message = ''
          tappaas.litellm.serviceKeys: ${lib.concatStringsSep ", " badNames} is not a consumer's
          VM name; use lower-case letters, digits and '-', starting with a letter (e.g. openwebui).
        '';
      }
    ];

    # `sudo litellm-service-keys ensure|revoke|reconcile`, also used over SSH
    # by `tappaas-litellm service-key --ensure/--revoke`.
    environment.systemPackages = [ serviceKeysCommand ];

    systemd.services.litellm-service-keys = lib.mkIf (consumerNames != [ ] || cfg.serviceKeysPrune) {
      description = "Reconcile the LiteLLM service keys of consuming modules";
      wantedBy = [ "multi-user.target" ];
      wants = [ "podman-litellm.service" ];
      after = [
        "podman-litellm.service"
        "generate-litellm-secrets.service"
      ];
      # Runs again on every switch that changes the declared keys; not while an
      # upgrade holds LiteLLM down (it would wait for LiteLLM and hold up the
      # switch): the upgrade's `start` runs it then.
      restartTriggers = [ stateFile ];
      unitConfig.ConditionPathExists = "!${import ./lib/upgrade-hold.nix}";
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        UMask = "0077";
        # The command waits up to 180 x 5 s for LiteLLM to become ready,
        # then fails with a message saying so.
        TimeoutStartSec = "20min";
        ExecStart = "${lib.getExe serviceKeysCommand} reconcile";
      };
    };
  };
}
