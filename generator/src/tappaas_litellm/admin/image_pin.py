"""The pinned LiteLLM image, `modules/litellm/image.json`: read, resolve a new tag, write.

A new tag is resolved with `nix-prefetch-docker` (which asks the registry with `skopeo` for
the digest and downloads the image once to compute the hash `dockerTools.pullImage` checks).
The digest and the hash are written together or not at all: both are checked first, and the
file is replaced in one `rename`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.process import Command, CommandNotFoundError, Runner

__all__ = [
    "PIN_FILE",
    "ImagePin",
    "nix_base32_to_sri",
    "parse_prefetch_output",
    "prefetch_command",
    "read_pin",
    "resolve",
    "write_pin",
]

PIN_FILE = Path("modules/litellm/image.json")

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SRI = re.compile(r"sha256-[A-Za-z0-9+/]{43}=")
_NIX32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"
_NIX32 = re.compile(f"[{_NIX32_ALPHABET}]{{52}}")
_IMAGE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+")


@dataclass(frozen=True)
class ImagePin:
    """The four fields of image.json, as `dockerTools.pullImage` takes them."""

    image_name: str
    tag: str
    digest: str
    hash: str

    def to_json(self) -> str:
        data = {
            "imageName": self.image_name,
            "finalImageTag": self.tag,
            "imageDigest": self.digest,
            "hash": self.hash,
        }
        return json.dumps(data, indent=2) + "\n"

    def reference(self) -> str:
        return f"{self.image_name}:{self.tag}@{self.digest}"


def check_tag(tag: str, option: str = "--image") -> str:
    if not _TAG.fullmatch(tag):
        raise InputError(
            f"{option} {tag!r}: not an image tag; allowed: letters, digits, '_', '.', '-', "
            "up to 128 characters, not starting with '.' or '-' (e.g. v1.90.0)"
        )
    return tag


def check_digest(digest: str, option: str = "--digest") -> str:
    if not _DIGEST.fullmatch(digest):
        raise InputError(
            f"{option} {digest!r}: not an image digest; allowed: sha256: and 64 hex digits"
        )
    return digest


def nix_base32_to_sri(value: str) -> str:
    """A SHA-256 in Nix's base32 (as nix-prefetch-docker prints it) as an SRI hash."""
    if not _NIX32.fullmatch(value):
        raise ValueError(f"{value!r} is not a SHA-256 in Nix base32")
    raw = bytearray(32)
    # Nix writes the hash's bits from the last base32 character to the first.
    for position, char in enumerate(reversed(value)):
        digit = _NIX32_ALPHABET.index(char)
        bit = position * 5
        byte, offset = divmod(bit, 8)
        raw[byte] |= (digit << offset) & 0xFF
        if offset > 3 and byte + 1 < 32:
            raw[byte + 1] |= digit >> (8 - offset)
        elif offset > 3 and digit >> (8 - offset):
            raise ValueError(f"{value!r} is not a SHA-256 in Nix base32")
    return "sha256-" + base64.b64encode(bytes(raw)).decode()


def check_hash(value: str, option: str = "--hash") -> str:
    """An SRI SHA-256 (sha256-...=), also from Nix base32 or sha256:<base32>."""
    if _SRI.fullmatch(value):
        return value
    plain = value.removeprefix("sha256:")
    try:
        return nix_base32_to_sri(plain)
    except ValueError:
        raise InputError(
            f"{option} {value!r}: not a Nix hash; allowed: an SRI hash sha256-...= "
            "(44 characters after 'sha256-') or a SHA-256 in Nix base32 (52 characters)"
        ) from None


def read_pin(path: Path) -> ImagePin:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pin = ImagePin(data["imageName"], data["finalImageTag"], data["imageDigest"], data["hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a readable image pin ({exc})") from None
    if not _IMAGE_NAME.fullmatch(pin.image_name):
        raise InputError(f"{path}: imageName {pin.image_name!r} is not an image name")
    return pin


def write_pin(path: Path, pin: ImagePin) -> None:
    """Replace `path` with `pin` in one rename; the old file stays whole until then."""
    check_tag(pin.tag, "tag")
    check_digest(pin.digest, "digest")
    check_hash(pin.hash, "hash")
    text = pin.to_json()
    fd, tmp = tempfile.mkstemp(prefix=".image-", suffix=".json.partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prefetch_command(image_name: str, tag: str) -> Command:
    return Command(
        (
            "nix-prefetch-docker",
            "--json",
            "--quiet",
            "--os",
            "linux",
            "--arch",
            "amd64",
            "--image-name",
            image_name,
            "--image-tag",
            tag,
        )
    )


def parse_prefetch_output(text: str) -> tuple[str, str]:
    """(digest, SRI hash) from nix-prefetch-docker --json; ValueError when either is missing."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    digest = data.get("imageDigest")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"no valid imageDigest (got {digest!r})")
    raw_hash = data.get("hash", data.get("sha256"))
    if not isinstance(raw_hash, str):
        raise ValueError("no hash or sha256")
    if _SRI.fullmatch(raw_hash):
        return digest, raw_hash
    return digest, nix_base32_to_sri(raw_hash.removeprefix("sha256:"))


def offline_hint(image_name: str, tag: str, name: str) -> str:
    return (
        "on a machine that reaches the registry, run: "
        f"{prefetch_command(image_name, tag).display()} ; then here: "
        f"tappaas-litellm upgrade {name} --image {shell.quote(tag)} "
        "--digest <imageDigest> --hash <sha256 from that output>"
    )


def resolve(current: ImagePin, tag: str, runner: Runner, name: str) -> ImagePin:
    """The pin of `tag` (same image name), from nix-prefetch-docker."""
    command = prefetch_command(current.image_name, tag)
    try:
        result = runner.run_command(command, capture=True)
    except CommandNotFoundError:
        raise StepError(
            "nix-prefetch-docker not found: the tag cannot be resolved to a digest and hash here",
            exit_code=127,
            hint="run the tool with `nix run .#upgrade -- ...` (it brings nix-prefetch-docker "
            "and skopeo), or " + offline_hint(current.image_name, tag, name),
        ) from None
    if result.returncode != 0:
        last = (result.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise StepError(
            f"nix-prefetch-docker could not fetch {current.image_name}:{tag} "
            f"(status {result.returncode}): {last[0]}",
            exit_code=1,
            hint="check the tag exists and the registry is reachable; offline, "
            + offline_hint(current.image_name, tag, name),
        )
    try:
        digest, sri = parse_prefetch_output(result.stdout)
    except ValueError as exc:
        raise StepError(
            f"nix-prefetch-docker gave no usable digest and hash for {current.image_name}:{tag}: "
            f"{exc}",
            hint=offline_hint(current.image_name, tag, name),
        ) from None
    return ImagePin(current.image_name, tag, digest, sri)
