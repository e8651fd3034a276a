# The model the budget and fault tests spend on: priced, so every answer costs,
# served by the fake provider of offline-image.nix with the key node.nix gives
# the container.
{
  tappaas.litellm.settings.model_list = [
    {
      model_name = "priced-model";
      litellm_params = {
        model = "openai/test-model";
        api_base = "http://127.0.0.1:8099/v1";
        api_key = "os.environ/FAKE_PROVIDER_KEY";
        input_cost_per_token = 0.5;
        output_cost_per_token = 0.5;
      };
    }
  ];
}
