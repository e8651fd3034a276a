#!/usr/bin/env bash
# litellm-backup-postgresql: dump the LiteLLM database to BACKUP_DIR/litellm-<UTC stamp>.dump
# (pg_dump custom format, mode 0600), then prune old dumps with litellm-backup-prune.
#
# Environment:
#   BACKUP_DIR             (/var/backup/postgresql)
#   LITELLM_DB_NAME        (litellm)
#   BACKUP_RETENTION_DAYS  (30)
#   BACKUP_ROOT            (/var/backup) passed on to litellm-backup-prune
#   PGHOST, PGPORT, PGUSER, PGPASSWORD ...  libpq connection (default: local socket, current user)
#   LITELLM_DB_USER        (litellm) when PGUSER is this role and PGPASSWORD is unset, the password
#                          is DATABASE_PASSWORD (the secrets file as EnvironmentFile): an external server
# The dump is written to a temporary file, checked with pg_restore --list, then renamed, so a
# failed run never leaves a file that looks like a good backup; a failure names the free space
# left (a full disk is the usual cause) and leaves the earlier backups as they are.
# Exit codes: 0 success, 1 failure.
set -euo pipefail
umask 077

backup_dir="${BACKUP_DIR:-/var/backup/postgresql}"
db_name="${LITELLM_DB_NAME:-litellm}"
retention="${BACKUP_RETENTION_DAYS:-30}"

die() {
  echo "litellm-backup-postgresql: $*" >&2
  exit 1
}

if [ -z "${PGPASSWORD:-}" ] && [ -n "${DATABASE_PASSWORD:-}" ] &&
  [ "${PGUSER:-}" = "${LITELLM_DB_USER:-litellm}" ]; then
  export PGPASSWORD="$DATABASE_PASSWORD"
fi

[ -d "$backup_dir" ] || die "backup directory $backup_dir does not exist"
target="$backup_dir/litellm-$(date -u +%Y%m%dT%H%M%SZ).dump"
[ ! -e "$target" ] || die "$target already exists"

# The backup folder may belong to another user (postgres owns the install guide's): the partial file
# is created new under a fresh name (noclobber: O_EXCL, never a path planted there) and renamed with
# mv -T, which replaces a planted name instead of following it.
tmp="$(mktemp -u "$backup_dir/.litellm-XXXXXX.partial")"
trap 'rm -f "$tmp"' EXIT

# "N KiB free in DIR", for failure messages.
free_space() {
  local kib
  kib="$(df --output=avail -k "$backup_dir" 2>/dev/null | tail -n1 | tr -d ' ')" || kib="?"
  echo "${kib:-?} KiB free in $backup_dir"
}

(set -C && pg_dump --format=custom --dbname="$db_name" >"$tmp") ||
  die "pg_dump of database $db_name failed ($(free_space)); no new backup, the earlier ones are kept"
pg_restore --list "$tmp" >/dev/null ||
  die "the new dump of $db_name cannot be read back ($(free_space)); no new backup, the earlier ones are kept"
mv -f -T -- "$tmp" "$target"
trap - EXIT
echo "litellm-backup-postgresql: wrote $target ($(stat -c %s "$target") bytes)"

litellm-backup-prune "$backup_dir" "$retention"
