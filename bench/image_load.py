"""What loading the container image costs at every start (nixpkgs' oci-containers `imageFile`).

With `imageFile`, nixpkgs' oci-containers runs `podman load -i <archive>` in the preStart of
every start of podman-litellm. This builds a docker-archive of the given size (random,
incompressible layers, uncompressed as dockerTools.pullImage writes it), loads it with
podman into a private storage (never the machine's own), and times:

  read-uncached  reading the archive from disk past the page cache (a start after a boot)
  load-first     `podman load` into storage that lacks the image (once per new image)
  load-again     `podman load` with the image already stored (every restart today), with the
                 archive in the page cache and evicted from it
  exists         `podman image exists` (a start that loads only when the image is missing)

Needs root and podman (Debian: apt-get install podman). Nothing is kept unless --keep.

    sudo python3 bench/image_load.py                 # 3 GiB in 12 layers
    sudo python3 bench/image_load.py --size-mib 512  # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

IMAGE = "localhost/litellm-bench:1"
CHUNK = 1 << 20


def write_layer(tar: tarfile.TarFile, size: int, scratch: Path) -> str:
    """One layer (a tar holding one file of `size` random bytes) added as <digest>/layer.tar."""
    raw = scratch / "layer.tar"
    with raw.open("wb") as out, tarfile.open(fileobj=out, mode="w") as layer:
        data = scratch / "data.bin"
        with data.open("wb") as handle:
            for _ in range(size // CHUNK):
                handle.write(os.urandom(CHUNK))
        layer.add(data, arcname="data.bin")
        data.unlink()
    digest = hashlib.sha256()
    with raw.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    hexdigest = digest.hexdigest()
    tar.add(raw, arcname=f"{hexdigest}/layer.tar")
    raw.unlink()
    return hexdigest


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def build_archive(path: Path, size_mib: int, layers: int) -> None:
    per_layer = size_mib * CHUNK // layers
    with tarfile.open(path, "w") as tar:
        ids = [write_layer(tar, per_layer, path.parent) for _ in range(layers)]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/bin/true"]},
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{i}" for i in ids]},
            }
        ).encode()
        config_id = hashlib.sha256(config).hexdigest()
        add_bytes(tar, f"{config_id}.json", config)
        manifest = [
            {
                "Config": f"{config_id}.json",
                "RepoTags": [IMAGE],
                "Layers": [f"{i}/layer.tar" for i in ids],
            }
        ]
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())


def evict(path: Path) -> None:
    """Drop the file's clean pages from the page cache (as after a boot)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=3072, help="archive size (3072)")
    parser.add_argument("--layers", type=int, default=12, help="layers (12)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each repeated step")
    parser.add_argument("--workdir", type=Path, default=None, help="where the files go")
    parser.add_argument("--keep", action="store_true", help="keep the archive and storage")
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("podman") is None:
        print("image_load: run as root with podman installed", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="image-load-", dir=args.workdir))
    podman = [
        "podman",
        *("--root", str(work / "storage"), "--runroot", str(work / "run")),
        *("--storage-driver", "overlay", "--events-backend", "file"),
        *("--cgroup-manager", "cgroupfs"),
    ]
    archive = work / "image.tar"
    try:
        started = time.monotonic()
        build_archive(archive, args.size_mib, args.layers)
        built = time.monotonic() - started
        size = archive.stat().st_size
        evict(archive)
        read = timed(["dd", f"if={archive}", "of=/dev/null", "bs=4M", "iflag=direct"])
        evict(archive)
        first = timed([*podman, "load", "-i", str(archive)])
        warm, cold, exists = [], [], []
        for _ in range(args.repeat):
            warm.append(timed([*podman, "load", "-i", str(archive)]))
            evict(archive)
            cold.append(timed([*podman, "load", "-i", str(archive)]))
            exists.append(timed([*podman, "image", "exists", IMAGE]))
        version = subprocess.run(
            ["podman", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        result = {
            "podman": version,
            "archive_bytes": size,
            "layers": args.layers,
            "seconds": {
                "build-archive": round(built, 3),
                "read-uncached": round(read, 3),
                "load-first": round(first, 3),
                "load-again-cached": round(statistics.median(warm), 3),
                "load-again-uncached": round(statistics.median(cold), 3),
                "exists": round(statistics.median(exists), 3),
            },
        }
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if not args.keep:
            subprocess.run(
                [*podman, "system", "reset", "--force"], capture_output=True, check=False
            )
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
