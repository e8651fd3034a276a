#!/usr/bin/env bash
# litellm-redis-exporter-env: the Redis exporter's own Redis user, never the Redis password.
#
# The exporter has no authentication of its own and its /scrape?target= endpoint sends its
# credentials to any server a caller names; check-keys reads key values. So it logs in as an ACL
# user that may run PING, INFO and a few statistics commands and nothing else: no key, no
# CONFIG GET (which would show requirepass), no SELECT.
#
#   LITELLM_REDIS_EXPORTER_PASSWORD_FILE  the user's password alone (made by litellm-secrets)
#   LITELLM_EXPORTER_ENV_FILE   where to write REDIS_USER=... and REDIS_PASSWORD=... (0600, root),
#                               the exporter's EnvironmentFile
#   LITELLM_REDIS_ACL_FILE      where to write the `user` line for redis.conf (0640, root:GROUP): the
#                               password only as its SHA-256, so Redis never holds it
#   LITELLM_REDIS_ACL_GROUP     group that may read the ACL file (the Redis server's); empty = root's
#   LITELLM_REDIS_EXPORTER_USER (litellm-exporter)
# Both files are written to new files in their folder and renamed (mv -T).
set -euo pipefail
umask 077

prog=litellm-redis-exporter-env
source_file=${LITELLM_REDIS_EXPORTER_PASSWORD_FILE:?}
env_file=${LITELLM_EXPORTER_ENV_FILE:?}
acl_file=${LITELLM_REDIS_ACL_FILE:?}
group=${LITELLM_REDIS_ACL_GROUP:-}
user=${LITELLM_REDIS_EXPORTER_USER:-litellm-exporter}

die() {
  echo "$prog: $*" >&2
  exit 1
}

[[ -s "$source_file" ]] || die "$source_file is missing or empty; is generate-litellm-secrets done?"
password=$(head -n1 -- "$source_file")
[[ "$password" =~ ^[A-Za-z0-9]{32,}$ ]] || die "$source_file must hold 32 or more letters and digits"
[[ "$user" =~ ^[a-z][a-z0-9-]*$ ]] || die "LITELLM_REDIS_EXPORTER_USER must be lower-case letters, digits and -"
hash=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)

# $1 = target, $2 = mode; the content on stdin.
write() {
  local tmp
  tmp="$(mktemp -u "$(dirname -- "$1")/.$(basename -- "$1").XXXXXX")"
  (set -C && cat >"$tmp")
  chmod "$2" -- "$tmp"
  if [[ -n "$group" && "$2" == 0640 ]]; then chgrp -- "$group" "$tmp"; fi
  mv -f -T -- "$tmp" "$1"
}

for dir in "$(dirname -- "$env_file")" "$(dirname -- "$acl_file")"; do
  mkdir -p -- "$dir"
  if [[ -n "$group" && "$dir" == "$(dirname -- "$acl_file")" ]]; then
    chgrp -- "$group" "$dir"
    chmod 0750 -- "$dir"
  fi
done

printf 'REDIS_USER=%s\nREDIS_PASSWORD=%s\n' "$user" "$password" | write "$env_file" 0600
# reset: nothing from before; resetkeys/resetchannels: no key and no channel at all.
printf 'user %s reset on #%s resetkeys resetchannels -@all %s\n' "$user" "$hash" \
  "+ping +info +client|setname +latency|latest +slowlog|len" | write "$acl_file" 0640
echo "$prog: wrote $env_file and $acl_file (Redis user $user)"
