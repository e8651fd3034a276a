# A LiteLLM VM as the tests build it: the module with the pinned image loaded
# from a file (test VMs have no network), a model served by the project's
# fake OpenAI-compatible provider on loopback, and room for the image.
{ pkgs, self, ... }:
let
  pin = builtins.fromJSON (builtins.readFile ../modules/litellm/image.json);
in
{
  imports = [ self.nixosModules.litellm ];

  virtualisation = {
    cores = 2;
    memorySize = 4096;
    diskSize = 12288;
  };

  tappaas.litellm = {
    enable = true;
    image = "${pin.imageName}:${pin.finalImageTag}";
    imageFile = pkgs.dockerTools.pullImage {
      inherit (pin)
        imageName
        imageDigest
        hash
        finalImageTag
        ;
      finalImageName = pin.imageName;
    };
    resources = {
      cores = 2;
      memoryMiB = 4096;
    };
    environment.FAKE_PROVIDER_KEY = "fake-provider-key";
    settings.model_list = [
      {
        model_name = "test-model";
        litellm_params = {
          model = "openai/test-model";
          api_base = "http://127.0.0.1:8099/v1";
          api_key = "os.environ/FAKE_PROVIDER_KEY";
        };
      }
    ];
  };

  systemd.services.fake-provider = {
    description = "Fake OpenAI-compatible provider for the tests";
    wantedBy = [ "multi-user.target" ];
    before = [ "podman-litellm.service" ];
    serviceConfig = {
      ExecStart = "${pkgs.python3.interpreter} ${../tests/upstream.py} --host 127.0.0.1 --port 8099 --api-key fake-provider-key";
      DynamicUser = true;
    };
  };

  environment.systemPackages = [
    pkgs.curl
    pkgs.jq
    pkgs.redis
  ];
}
