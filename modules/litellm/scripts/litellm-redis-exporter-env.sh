#!/usr/bin/env bash
# litellm-redis-exporter-env: the Redis password as an environment file for
# prometheus-redis-exporter (REDIS_PASSWORD, which redis_exporter reads), so
# the exporter never sees the rest of the secrets file.
#   LITELLM_REDIS_PASSWORD_FILE  the password alone (tappaas.litellm.secrets.redisPasswordFile)
#   LITELLM_EXPORTER_ENV_FILE    where to write REDIS_PASSWORD=... (0600, root)
set -euo pipefail

source_file=${LITELLM_REDIS_PASSWORD_FILE:?}
target=${LITELLM_EXPORTER_ENV_FILE:?}

if [[ ! -s "$source_file" ]]; then
  echo "litellm-redis-exporter-env: $source_file is missing or empty; is generate-litellm-secrets done?" >&2
  exit 1
fi
password=$(head -n1 -- "$source_file")

umask 077
mkdir -p -- "$(dirname -- "$target")"
tmp=$(mktemp "$target.XXXXXX")
printf 'REDIS_PASSWORD=%s\n' "$password" >"$tmp"
mv -f -T -- "$tmp" "$target"
echo "litellm-redis-exporter-env: wrote $target"
