"""The Proxmox image of each host: the flake's packages.<system>.<host>-proxmox.

With Debian's Nix: the flake makes one image per host through nixos-generators' proxmox
format from exactly the host's modules plus modules/proxmox-image.nix, and that module
turns the generated host's values into the image's qemu-server.conf. With nixeval: the
image's whole module set against the NixOS 25.11 option mirror, including the proxmox
format's options and asserts.
"""

from __future__ import annotations

import pytest
from nixtools import NIXEVAL, ROOT, nix_eval, nixeval

# Stand-in inputs: nixosSystem and nixosGenerate hand back what they were given.
STUB_INPUTS = """
let
  flake = import ./flake.nix;
  nixpkgs = {
    lib.nixosSystem = args: { nixosSystemArgs = args; };
    legacyPackages = { };
  };
  nixos-generators.nixosGenerate = args: { generateArgs = args; };
in
flake.outputs { self = { }; inherit nixpkgs nixos-generators; }
"""

# The image module called as the module system would, with the two lib functions it uses.
IMAGE_OF = """
host: extra:
let
  config = {
    inherit (host) networking;
    tappaas.vm.proxmox = host.tappaas.vm.proxmox // extra;
    tappaas.litellm.resources = host.tappaas.litellm.resources;
  };
  lib = {
    concatStringsSep = builtins.concatStringsSep;
    optional = cond: x: if cond then [ x ] else [ ];
  };
in
import ./modules/proxmox-image.nix { inherit config lib; }
"""


def _hosts() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "hosts").glob("*/default.nix"))


def test_every_host_has_a_proxmox_image() -> None:
    names = nix_eval(f'builtins.attrNames ({STUB_INPUTS}).packages."x86_64-linux"')
    assert isinstance(names, list)
    assert [n for n in names if n.endswith("-proxmox")] == [f"{h}-proxmox" for h in _hosts()]


@pytest.mark.parametrize("host", _hosts())
def test_the_image_is_the_hosts_own_modules_in_proxmox_format(host: str) -> None:
    got = nix_eval(
        f"""
        let
          outputs = {STUB_INPUTS};
          system = outputs.nixosConfigurations.{host}.nixosSystemArgs.modules;
          image = outputs.packages."x86_64-linux"."{host}-proxmox".generateArgs;
          n = builtins.length system;
          m = builtins.length image.modules;
          at = builtins.elemAt image.modules;
        in {{
          inherit (image) format system;
          same = builtins.genList at n == system;
          extra = map toString (builtins.genList (i: at (i + n)) (m - n));
          arguments = builtins.attrNames image;
        }}
        """
    )
    assert got == {
        "format": "proxmox",
        "system": "x86_64-linux",
        "same": True,
        "extra": [str(ROOT / "modules" / "proxmox-image.nix")],
        "arguments": ["format", "modules", "system"],
    }


def test_qemu_server_conf_comes_from_the_generated_host() -> None:
    conf = nix_eval(f"({IMAGE_OF}) (import ./hosts/litellm) {{ }}")
    assert conf == {
        "proxmox": {
            "qemuConf": {
                "name": "litellm",
                "cores": 4,
                "memory": 4096,
                "bios": "ovmf",
                "boot": "order=virtio0",
                "net0": "virtio=00:00:00:00:00:00,bridge=lan,tag=220",
                "agent": True,
            },
            "qemuExtraConf": {"onboot": 1},
            "cloudInit": {"enable": False},
            "filenameSuffix": "310-litellm",
        },
        "virtualisation": {"diskSize": 32768},
    }


def test_an_untagged_zone_and_no_vmid() -> None:
    conf = nix_eval(f"({IMAGE_OF}) (import ./hosts/litellm) {{ vlanTag = 0; vmid = null; }}")
    assert isinstance(conf, dict)
    assert conf["proxmox"]["qemuConf"]["net0"] == "virtio=00:00:00:00:00:00,bridge=lan"
    assert conf["proxmox"]["filenameSuffix"] == "litellm"


def test_the_tool_looks_for_the_file_the_image_has() -> None:
    # make-disk-image names the archive vzdump-qemu-<filenameSuffix>.vma.zst.
    from tappaas_litellm.hostfile.module_file import load_module_file
    from tappaas_litellm.hostfile.zones import load_zones

    suffix = nix_eval(f"(({IMAGE_OF}) (import ./hosts/litellm) {{ }}).proxmox.filenameSuffix")
    spec = load_module_file(ROOT / "litellm.json", load_zones()).spec
    expected = f"vzdump-qemu-{spec.vmid}-{spec.name}.vma.zst"
    assert f"vzdump-qemu-{suffix}.vma.zst" == expected
    source = (ROOT / "generator/src/tappaas_litellm/admin/create.py").read_text()
    assert 'f"vzdump-qemu-{self.spec.vmid}-{self.spec.name}.vma.zst"' in source


# -- nixeval ------------------------------------------------------------------------------------
# nixeval (../shared/tools/nixeval, here and in CI) evaluates with nixpkgs' module system; its
# mirror of the proxmox format (formats/proxmox.nix) declares virtualisation.diskSize, which
# nixpkgs declares in nixos/modules/virtualisation/disk-size-option.nix.


def test_nixeval_the_image_module_set() -> None:
    status, report, stderr = nixeval(
        ROOT,
        ROOT / "hosts" / "litellm" / "default.nix",
        ROOT / "modules" / "proxmox-image.nix",
        NIXEVAL.parent / "formats" / "proxmox.nix",
    )
    assert status == 0, stderr
    result = report["results"]["modules"]
    assert result["failedAssertions"] == [] and result["warnings"] == []
    proxmox = result["proxmox"]
    assert proxmox["partitionTableType"] == "efi"
    assert proxmox["cloudInit"]["enable"] is False
    assert proxmox["filenameSuffix"] == "310-litellm"
    conf = proxmox["qemuConf"]
    assert (conf["name"], conf["cores"], conf["memory"], conf["bios"], conf["agent"]) == (
        "litellm", 4, 4096, "ovmf", "1"
    )  # fmt: skip
    assert conf["net0"] == "virtio=00:00:00:00:00:00,bridge=lan,tag=220"
    # The format adds the cloud-init drive itself, also with cloudInit.enable = false.
    assert proxmox["qemuExtraConf"] == {
        "ide2": "local-lvm:vm-9999-cloudinit,media=cdrom",
        "onboot": 1,
    }
    # One disk layout: the VM profile's, which the format agrees with.
    assert result["fileSystems"]["/"] == {"device": "/dev/disk/by-label/nixos", "fsType": "ext4"}
    assert result["fileSystems"]["/boot"] == {
        "device": "/dev/disk/by-label/ESP",
        "fsType": "vfat",
    }
    assert result["bootLoader"] == {"grub": False, "systemdBoot": True}
    assert result["hostName"] == "litellm"  # not the "" the format forces with cloudInit
    assert "podman-litellm.service" in result["units"]


def test_nixeval_the_flake() -> None:
    status, report, stderr = nixeval("--flake", ROOT)
    assert status == 0, stderr
    results = report["results"]
    assert sorted(results) == sorted(_hosts() + [f"image:{h}-proxmox" for h in _hosts()])
    for name, result in results.items():
        assert "error" not in result, result
        assert result["failedAssertions"] == [], name
    image = results["image:litellm-proxmox"]
    assert image["proxmox"]["qemuConf"]["name"] == "litellm"
    assert image["proxmox"]["filenameSuffix"] == "310-litellm"
