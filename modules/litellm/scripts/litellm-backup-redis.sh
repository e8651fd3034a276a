#!/usr/bin/env bash
# litellm-backup-redis: snapshot Redis to BACKUP_DIR/redis-<UTC stamp>.rdb (mode 0600), then prune
# old snapshots with litellm-backup-prune.
#
# `redis-cli --rdb` asks the server for a fresh RDB snapshot over the replication protocol, which is
# correct with AOF on (copying appendonly files or dump.rdb by hand is not).
#
# Environment:
#   BACKUP_DIR             (/var/backup/redis)
#   REDIS_HOST             (127.0.0.1)
#   REDIS_PORT             (6379)
#   REDIS_PASSWORD         the server's password (from the secrets file; when unset it is read from
#                          LITELLM_ENV_FILE); given to redis-cli as REDISCLI_AUTH, never on a command line
#   LITELLM_ENV_FILE       (/etc/secrets/litellm.env)
#   BACKUP_RETENTION_DAYS  (30)
#   BACKUP_ROOT            (/var/backup) passed on to litellm-backup-prune
# Exit codes: 0 success, 1 failure.
set -euo pipefail
umask 077

backup_dir="${BACKUP_DIR:-/var/backup/redis}"
redis_host="${REDIS_HOST:-127.0.0.1}"
redis_port="${REDIS_PORT:-6379}"
env_file="${LITELLM_ENV_FILE:-/etc/secrets/litellm.env}"
retention="${BACKUP_RETENTION_DAYS:-30}"

die() {
  echo "litellm-backup-redis: $*" >&2
  exit 1
}

if [ -z "${REDIS_PASSWORD+set}" ] && [ -r "$env_file" ]; then
  REDIS_PASSWORD="$(grep -m1 '^REDIS_PASSWORD=' "$env_file" | cut -d= -f2- || true)"
fi
if [ -n "${REDIS_PASSWORD:-}" ]; then
  export REDISCLI_AUTH="$REDIS_PASSWORD"
fi

[ -d "$backup_dir" ] || die "backup directory $backup_dir does not exist"
target="$backup_dir/redis-$(date -u +%Y%m%dT%H%M%SZ).rdb"
[ ! -e "$target" ] || die "$target already exists"

# The backup folder may belong to another user (postgres owns the install guide's): the partial file
# is created new under a fresh name (noclobber: O_EXCL, never a path planted there) and renamed with
# mv -T, which replaces a planted name instead of following it.
tmp="$(mktemp -u "$backup_dir/.redis-XXXXXX.partial")"
trap 'rm -f "$tmp"' EXIT

(set -C && exec 3>"$tmp" && redis-cli -h "$redis_host" -p "$redis_port" --no-auth-warning \
  --rdb /dev/fd/3 >/dev/null) ||
  die "snapshot from Redis at $redis_host:$redis_port failed"
[ "$(head -c 5 "$tmp")" = "REDIS" ] || die "the snapshot from $redis_host:$redis_port is not an RDB file"
mv -f -T -- "$tmp" "$target"
trap - EXIT
echo "litellm-backup-redis: wrote $target ($(stat -c %s "$target") bytes)"

litellm-backup-prune "$backup_dir" "$retention"
