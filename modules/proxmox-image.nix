# The Proxmox image of a host: added to the host's own modules by the flake's
# packages.<system>.<host>-proxmox, through nixos-generators' `proxmox` format
# (nixpkgs' virtualisation/proxmox-image.nix). Everything here goes into the
# image's qemu-server.conf, from what the generated host already carries:
# its name, `tappaas.litellm.resources` and `tappaas.vm.proxmox`.
#
# The disk and the boot loader are the VM profile's (modules/tappaas-vm.nix):
# OVMF, systemd-boot, root labelled "nixos", the EFI system partition labelled
# "ESP", as in the TAPPaaS NixOS template. The image format builds exactly
# that layout for `bios = "ovmf"` (partition table "efi").
{ config, lib, ... }:
let
  vm = config.tappaas.vm.proxmox;
  inherit (config.tappaas.litellm) resources;
  name = config.networking.hostName;
in
{
  proxmox = {
    qemuConf = {
      inherit name;
      inherit (resources) cores;
      memory = resources.memoryMiB;
      # UEFI, TAPPaaS's default `bios`: the VM profile boots with systemd-boot.
      bios = "ovmf";
      boot = "order=virtio0";
      # Proxmox gives the interface a random MAC address on restore
      # (`qmrestore --unique 1`); no tag for an untagged zone.
      net0 = lib.concatStringsSep "," (
        [
          "virtio=00:00:00:00:00:00"
          "bridge=${vm.bridge}"
        ]
        ++ lib.optional (vm.vlanTag != 0) "tag=${toString vm.vlanTag}"
      );
      agent = true;
    };
    qemuExtraConf.onboot = 1;
    # The format always adds the cloud-init drive (proxmox.cloudInit.device,
    # ide2), through which Proxmox hands the VM the SSH key of `tappaas`
    # (qm set --sshkeys); qmrestore re-creates it for the VM. Its `enable`
    # switch would also force networking.hostName to "" and turn on cloud-init
    # networking: the host keeps its name (its first DHCP request registers
    # it) and the VM profile runs cloud-init without networking.
    cloudInit.enable = false;
    filenameSuffix = if vm.vmid == null then name else "${toString vm.vmid}-${name}";
  };

  # nixpkgs' disk-size-option.nix (replaces proxmox.qemuConf.diskSize since 24.11).
  virtualisation.diskSize = vm.diskSizeMiB;
}
