# What every TAPPaaS NixOS VM on Proxmox has: guest agent, serial console,
# NetworkManager, cloud-init without networking, the `tappaas` admin user
# with SSH keys only, a firewall with only SSH open, flakes for remote
# deploys, weekly garbage collection, file systems found by label and
# systemd-boot on the EFI system partition (no hardware-configuration.nix).
{
  config,
  lib,
  modulesPath,
  ...
}:
let
  cfg = config.tappaas.vm;
in
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];

  options.tappaas.vm = {
    sshKeys = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... tappaas@tappaas-cicd" ];
      description = ''
        SSH public keys allowed to log in as `tappaas`. Keys are the only way
        in: `tappaas` has no password and root cannot log in over SSH. Keys a
        template VM already put in `~tappaas/.ssh/authorized_keys` keep working.
      '';
    };

    timeZone = lib.mkOption {
      type = lib.types.str;
      default = "Europe/Amsterdam";
      description = "Time zone of the VM (a tz database name).";
    };

    # The VM's Proxmox hardware. The running system does not read these; the
    # Proxmox image of the host (modules/proxmox-image.nix, the flake's
    # packages.<system>.<host>-proxmox) writes them into its qemu-server.conf.
    proxmox = {
      vmid = lib.mkOption {
        type = lib.types.nullOr (lib.types.ints.between 100 999999999);
        default = null;
        example = 310;
        description = ''
          The Proxmox VM id. The image's file name starts with it
          (`vzdump-qemu-<vmid>-<name>.vma.zst`), so Proxmox lists the image as
          a backup of this VM.
        '';
      };
      diskSizeMiB = lib.mkOption {
        type = lib.types.ints.positive;
        default = 8192;
        example = 32768;
        description = ''
          Size of the VM's disk in MiB (TAPPaaS `diskSize`; 32G is 32768). The
          root file system grows to fill it at boot.
        '';
      };
      bridge = lib.mkOption {
        type = lib.types.strMatching "[A-Za-z][A-Za-z0-9_.-]{0,14}";
        default = "lan";
        description = "The Proxmox bridge of the VM's network interface (TAPPaaS `bridge0`).";
      };
      vlanTag = lib.mkOption {
        type = lib.types.ints.between 0 4094;
        default = 0;
        example = 220;
        description = ''
          The VLAN tag of the VM's network interface: the `vlantag` of its
          TAPPaaS zone (`zone0`); 0 means untagged, as in the `mgmt` zone.
        '';
      };
    };
  };

  config = {
    # Proxmox: guest agent and a serial console (serial0 = socket).
    services.qemuGuest.enable = true;
    boot.kernelParams = [
      "console=tty1"
      "console=ttyS0,115200"
    ];

    # The disk of the TAPPaaS NixOS template (VM 8080, nixpkgs' qemu-efi
    # image, booted by OVMF): an ext4 file system labelled "nixos", grown to
    # the disk's size at boot, and the EFI system partition labelled "ESP".
    fileSystems."/" = {
      device = "/dev/disk/by-label/nixos";
      fsType = "ext4";
      autoResize = true;
    };
    fileSystems."/boot" = {
      device = "/dev/disk/by-label/ESP";
      fsType = "vfat";
      options = [
        "fmask=0077"
        "dmask=0077"
      ];
    };
    boot.growPartition = true;
    # The template boots with systemd-boot from the ESP. Every switch must
    # write its entry there: otherwise a reboot starts the template's old
    # generation instead of the deployed one (and, once the garbage collector
    # removed that generation, nothing at all).
    boot.loader.systemd-boot.enable = lib.mkDefault true;
    # Kernels and initrds are copied to the ESP (256 MiB in the template's
    # image); a bounded menu keeps it from filling up.
    boot.loader.systemd-boot.configurationLimit = lib.mkDefault 10;

    # One ethernet profile for whatever NIC the VM gets (matched by type, not
    # by name); addresses come from DHCP / router advertisements.
    networking.networkmanager = {
      enable = true;
      settings.main.no-auto-default = "*";
      ensureProfiles.profiles.ethernet = {
        connection = {
          id = "ethernet";
          type = "ethernet";
          autoconnect = true;
        };
        ipv4.method = "auto";
        ipv6 = {
          method = "auto";
          addr-gen-mode = "stable-privacy";
        };
      };
    };

    # cloud-init for what Proxmox provides (host name, disk growth), but
    # never for the network, which NetworkManager owns.
    services.cloud-init = {
      enable = true;
      # Forced: an image builder that turns cloud-init networking on
      # (systemd-networkd) would fight NetworkManager over the interface.
      network.enable = lib.mkForce false;
      settings = {
        network.config = "disabled";
        # As in the TAPPaaS template: NixOS makes the SSH host keys
        # (sshd-keygen.service); cloud-init neither deletes nor races it, also
        # when Proxmox changes the instance id.
        ssh_deletekeys = false;
        ssh_genkeytypes = [ ];
      };
    };

    users.users.tappaas = {
      isNormalUser = true;
      description = "TAPPaaS administrator";
      extraGroups = [ "wheel" ];
      # No password: "!" matches no password, so only SSH keys let anyone in.
      hashedPassword = "!";
      openssh.authorizedKeys.keys = cfg.sshKeys;
    };
    security.sudo.wheelNeedsPassword = false;

    services.openssh = {
      enable = true;
      openFirewall = true;
      settings = {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        PermitRootLogin = "no";
      };
    };

    # Only SSH here; the gateway port is opened by the service's own
    # openFirewall option.
    networking.firewall.enable = true;

    nix.settings = {
      experimental-features = [
        "nix-command"
        "flakes"
      ];
      trusted-users = [
        "root"
        "@wheel"
      ];
    };
    nix.gc = {
      automatic = true;
      dates = "weekly";
      options = "--delete-older-than 30d";
    };

    time.timeZone = cfg.timeZone;

    system.stateVersion = lib.mkDefault "25.11";
  };
}
