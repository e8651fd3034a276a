"""The container's image archive is loaded once (modules/litellm/container.nix), evaluated with
nixeval: with `imageFile`, podman-litellm runs litellm-image-load before it starts and nixpkgs'
oci-containers gets no imageFile (it would `podman load` the whole archive at every start);
without one, nothing of it. litellm-image-load itself runs against Debian's podman in
tests/stack/test_stack_image_load.py.
"""

from __future__ import annotations

from pathlib import Path

from nixtools import ROOT, golden_host_text, nixeval

IMAGE = "ghcr.io/berriai/litellm-database:v1.89.3"
IMAGE_FILE = """{ pkgs, ... }:
{
  tappaas.litellm.image = "ghcr.io/berriai/litellm-database:v1.89.3";
  tappaas.litellm.imageFile = pkgs.dockerTools.pullImage {
    imageName = "ghcr.io/berriai/litellm-database";
    imageDigest = "sha256:598664e0bed053e774d5dbd18745ddce890e8c6909390ccf669beae443a9d984";
    hash = "sha256-/9K1dpdydpAeL1G3FcG+EJYVnwpIff9d6Sb+JTO9pO0=";
    finalImageTag = "v1.89.3";
  };
}
"""


def evaluate(tmp_path: Path, *extra: str) -> dict:
    host = tmp_path / "default.nix"
    host.write_text(golden_host_text())
    files = []
    for n, text in enumerate(extra):
        files.append(tmp_path / f"extra{n}.nix")
        files[-1].write_text(text)
    status, report, stderr = nixeval(ROOT, host, *files)
    assert status == 0, stderr
    result: dict = report["results"]["modules"]
    return result


def test_an_image_archive_is_loaded_by_litellm_image_load_not_at_every_start(
    tmp_path: Path,
) -> None:
    result = evaluate(tmp_path, IMAGE_FILE)
    container = result["containers"]["litellm"]
    assert (container["image"], container.get("imageFile"), container["pull"]) == (
        IMAGE,
        None,
        "never",
    )
    unit = result["services"]["podman-litellm"]["serviceConfig"]
    loads = [c for c in unit["ExecStartPre"] if "litellm-image-load" in c]
    assert len(loads) == 1, unit["ExecStartPre"]
    exe, archive, image = loads[0].split()
    assert exe.endswith("-litellm-image-load/bin/litellm-image-load")
    assert archive.endswith("-docker-image-ghcr.io-berriai-litellm-database-v1.89.3.tar")
    assert image == IMAGE
    assert unit["StateDirectory"] == "litellm-image"
    script = [g for g in result["generated"] if g.get("name") == "litellm-image-load"]
    source = (ROOT / "modules/litellm/scripts/litellm-image-load.sh").read_text()
    assert [g["text"] for g in script] == [source]


def test_without_an_archive_the_image_is_pulled_by_digest_as_before(tmp_path: Path) -> None:
    result = evaluate(tmp_path)
    container = result["containers"]["litellm"]
    assert container.get("imageFile") is None and container["pull"] == "missing"
    assert "@sha256:" in container["image"]
    unit = result["services"]["podman-litellm"]["serviceConfig"]
    assert not any("litellm-image-load" in c for c in unit["ExecStartPre"])
    assert "StateDirectory" not in unit
