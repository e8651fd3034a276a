# A LiteLLM VM as the tests build it: the module with the pinned image loaded
# from a file (test VMs have no network), a model served by the project's
# fake OpenAI-compatible provider on loopback, and room for the image.
{ pkgs, self, ... }:
{
  imports = [
    self.nixosModules.litellm
    ./offline-image.nix
  ];

  tappaas.litellm = {
    enable = true;
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

  environment.systemPackages = [ pkgs.redis ];
}
