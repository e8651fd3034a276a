#!/usr/bin/env bash
# litellm-image-load: loads LiteLLM's image archive into podman once, not at every start.
#
# usage: litellm-image-load ARCHIVE IMAGE
#
# nixpkgs' oci-containers runs `podman load -i ARCHIVE` before every start of a container with
# `imageFile`: podman reads and checks the whole archive (several GiB for LiteLLM) even when
# the image is stored already (bench/image_load.py). podman-litellm runs this instead (the
# module gives oci-containers no imageFile): it loads ARCHIVE only when the image IMAGE (its
# name:tag) is missing or is not the one this very ARCHIVE gave, and records what it loaded.
# A Nix store path names its content, so a new archive is always loaded.
#
# Environment: LITELLM_IMAGE_STAMP (/var/lib/litellm-image/loaded; its folder is root's,
# podman-litellm's StateDirectory), PODMAN (podman).
# Exit codes: 0 the image is there; 1 it is not (one line on stderr says why); 2 usage error.
set -euo pipefail
umask 022

prog=litellm-image-load
stamp="${LITELLM_IMAGE_STAMP:-/var/lib/litellm-image/loaded}"
read -r -a podman <<<"${PODMAN:-podman}"

[ "$#" -eq 2 ] || {
  echo "usage: $prog ARCHIVE IMAGE" >&2
  exit 2
}
archive="$1"
image="$2"

stored_id() {
  "${podman[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true
}

id="$(stored_id)"
if [ -n "$id" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$archive $id" ]; then
  echo "$prog: $image is stored already (image ${id:0:12}, loaded from $archive)"
  exit 0
fi

[ -r "$archive" ] || {
  echo "$prog: cannot read the image archive $archive" >&2
  exit 1
}
echo "$prog: loading $archive (${id:+replacing image ${id:0:12} of }$image)"
out="$("${podman[@]}" load -i "$archive" 2>&1)" || {
  echo "$prog: podman load -i $archive failed: ${out##*$'\n'}" >&2
  exit 1
}
id="$(stored_id)"
[ -n "$id" ] || {
  echo "$prog: $archive holds no image named $image (it loaded: ${out##*$'\n'})" >&2
  exit 1
}
printf '%s %s\n' "$archive" "$id" >"$stamp.new"
mv -f -- "$stamp.new" "$stamp"
echo "$prog: loaded $image (image ${id:0:12})"
