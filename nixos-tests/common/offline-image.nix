# What every single-VM test node shares: room for the LiteLLM image, the pinned
# image loaded from a file (test VMs have no network), the VM's size as the
# module sees it, and the project's fake OpenAI-compatible provider on
# loopback (tests/upstream.py; it accepts only the key `fake-provider-key`).
{ pkgs, ... }:
let
  pin = builtins.fromJSON (builtins.readFile ../../modules/litellm/image.json);
in
{
  virtualisation = {
    cores = 2;
    memorySize = 4096;
    diskSize = 12288;
  };

  tappaas.litellm = {
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
  };

  systemd.services.fake-provider = {
    description = "Fake OpenAI-compatible provider for the tests";
    wantedBy = [ "multi-user.target" ];
    before = [ "podman-litellm.service" ];
    serviceConfig = {
      ExecStart = "${pkgs.python3.interpreter} ${../../tests/upstream.py} --host 127.0.0.1 --port 8099 --api-key fake-provider-key";
      DynamicUser = true;
    };
  };

  environment.systemPackages = [
    pkgs.curl
    pkgs.jq
  ];
}
