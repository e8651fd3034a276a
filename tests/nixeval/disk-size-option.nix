# For nixeval only: the declaration of `virtualisation.diskSize` that nixeval's
# mirror of the proxmox image format lacks. In NixOS 25.11 it comes from
# nixos/modules/virtualisation/disk-size-option.nix, which proxmox-image.nix and
# nixos-generators' format-module.nix import: "auto" or a positive number of MiB.
{ lib, ... }:
{
  options.virtualisation.diskSize = lib.mkOption {
    type = lib.types.either (lib.types.enum [ "auto" ]) lib.types.ints.positive;
    default = "auto";
    description = "Disk size of the image in MiB (mirrors nixpkgs' disk-size-option.nix).";
  };
}
