# The node of the adoption test: the install guide's VM (guide-vm.nix), with
# this flake's module imported but off, and the specialisation `module` that
# turns it on, as `nix run .#deploy` does to such a VM. Both run the same
# pinned image, loaded offline (common/offline-image.nix; guide-vm.nix reads it from
# tappaas.litellm.image and imageFile).
{ self, ... }:
{
  imports = [
    self.nixosModules.litellm
    ../common/offline-image.nix
    ./guide-vm.nix
  ];

  tappaas.litellm.listenAddress = "0.0.0.0";

  specialisation.module.configuration.tappaas.litellm.enable = true;
}
