"""litellm-image-load with Debian's podman: an image archive is loaded once, not at every start.

podman runs for real, on a storage of its own under the test's folder; the archives are small
docker-archives built as bench/image_load.py builds them (as dockerTools.pullImage writes one).
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from stacklib import REPO_ROOT, Scripts

IMAGE = "localhost/litellm-bench:1"

_spec = importlib.util.spec_from_file_location("image_load", REPO_ROOT / "bench" / "image_load.py")
assert _spec and _spec.loader
image_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(image_load)


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[list[str]]:
    assert shutil.which("podman"), "podman is needed (Debian package podman; dev/setup installs it)"
    # podman refuses a runroot path longer than 50 characters.
    runroot = Path(tempfile.mkdtemp(prefix="podman-run-", dir="/tmp"))
    command = [
        "podman",
        *("--root", str(tmp_path / "storage"), "--runroot", str(runroot)),
        *("--storage-driver", "overlay", "--events-backend", "file"),
        *("--cgroup-manager", "cgroupfs"),
    ]
    yield command
    subprocess.run([*command, "system", "reset", "--force"], capture_output=True, check=False)
    shutil.rmtree(runroot, ignore_errors=True)


def archive(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tar"
    image_load.build_archive(path, size_mib=2, layers=2)
    return path


def stored_id(podman: list[str]) -> str:
    out = subprocess.run(
        [*podman, "image", "inspect", "--format", "{{.Id}}", IMAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


def load(scripts: Scripts, podman: list[str], tmp_path: Path, path: Path, image: str = IMAGE):
    env = {"PODMAN": shlex.join(podman), "LITELLM_IMAGE_STAMP": str(tmp_path / "loaded")}
    return scripts.run("litellm-image-load", str(path), image, env=env, timeout=300)


def test_loaded_once_then_started_from_the_stored_image(scripts, podman, tmp_path):
    first = archive(tmp_path / "a", "image")
    result = load(scripts, podman, tmp_path, first)
    assert result.returncode == 0, result.stderr
    assert "loading" in result.stdout
    image_id = stored_id(podman)
    assert (tmp_path / "loaded").read_text() == f"{first} {image_id}\n"
    # The next start does not read the archive at all: it may even be gone.
    first.unlink()
    again = load(scripts, podman, tmp_path, first)
    assert again.returncode == 0, again.stderr
    assert f"{IMAGE} is stored already (image {image_id[:12]}" in again.stdout
    assert stored_id(podman) == image_id


def test_another_archive_with_the_same_tag_is_loaded(scripts, podman, tmp_path):
    assert load(scripts, podman, tmp_path, archive(tmp_path / "a", "image")).returncode == 0
    old = stored_id(podman)
    newer = archive(tmp_path / "b", "image")
    result = load(scripts, podman, tmp_path, newer)
    assert result.returncode == 0, result.stderr
    assert f"replacing image {old[:12]}" in result.stdout
    assert stored_id(podman) not in ("", old)
    assert (tmp_path / "loaded").read_text() == f"{newer} {stored_id(podman)}\n"


def test_an_image_removed_from_podman_is_loaded_again(scripts, podman, tmp_path):
    path = archive(tmp_path / "a", "image")
    assert load(scripts, podman, tmp_path, path).returncode == 0
    subprocess.run([*podman, "rmi", "-f", IMAGE], capture_output=True, check=True)
    result = load(scripts, podman, tmp_path, path)
    assert result.returncode == 0, result.stderr
    assert "loading" in result.stdout and stored_id(podman)


def test_an_archive_without_the_image_fails_clearly(scripts, podman, tmp_path):
    path = archive(tmp_path / "a", "image")
    result = load(scripts, podman, tmp_path, path, image="localhost/other:2")
    assert result.returncode == 1
    assert f"{path} holds no image named localhost/other:2" in result.stderr
    assert not (tmp_path / "loaded").exists()


def test_a_missing_archive_fails_clearly(scripts, podman, tmp_path):
    result = load(scripts, podman, tmp_path, tmp_path / "missing.tar")
    assert result.returncode == 1
    assert f"cannot read the image archive {tmp_path / 'missing.tar'}" in result.stderr


def test_usage(scripts, podman, tmp_path):
    result = scripts.run("litellm-image-load", "only-one")
    assert result.returncode == 2 and "usage: litellm-image-load ARCHIVE IMAGE" in result.stderr
