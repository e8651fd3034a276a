# The node of the adoption test: the install guide's VM (guide-vm.nix), with
# this flake's module imported but off, and the specialisation `module` that
# turns it on, as `nix run .#deploy` does to such a VM.
{ pkgs, self, ... }:
let
  pin = builtins.fromJSON (builtins.readFile ../modules/litellm/image.json);
in
{
  imports = [
    self.nixosModules.litellm
    ./guide-vm.nix
  ];

  virtualisation = {
    cores = 2;
    memorySize = 4096;
    diskSize = 12288;
  };

  # Read by guide-vm.nix too: both run the same pinned image, loaded offline.
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
    listenAddress = "0.0.0.0";
    resources = {
      cores = 2;
      memoryMiB = 4096;
    };
  };

  specialisation.module.configuration.tappaas.litellm.enable = true;

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
  ];
}
