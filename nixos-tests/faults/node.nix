# The single-VM host of the fault test: the test node (common/node.nix) with the
# TAPPaaS VM profile (its SSH and firewall settings are under test), LiteLLM
# reachable from the other nodes, a priced model, and the backups on a small
# file system of their own, so it can be filled without filling the journal.
{ lib, self, ... }:
{
  imports = [
    ../common/node.nix
    ../common/priced-model.nix
    self.nixosModules.tappaas-vm
  ];

  # The profile's parts that belong to Proxmox, not to a test VM: the test
  # driver configures the network and boots the kernel directly.
  networking.networkmanager.enable = lib.mkForce false;
  services.cloud-init.enable = lib.mkForce false;
  boot.growPartition = lib.mkForce false;
  boot.loader.systemd-boot.enable = lib.mkForce false;
  services.qemuGuest.enable = lib.mkForce false;

  virtualisation.fileSystems."/var/backup" = {
    fsType = "tmpfs";
    options = [
      "size=64m"
      "mode=0700"
    ];
  };

  tappaas.litellm = {
    listenAddress = "0.0.0.0";
    openFirewall = true;
  };
}
