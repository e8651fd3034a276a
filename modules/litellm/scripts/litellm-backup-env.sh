#!/usr/bin/env bash
# litellm-backup-env: archive the secrets file and the LiteLLM configuration to
# BACKUP_DIR/litellm-env-<UTC stamp>.tar.gz (mode 0600), containing exactly litellm.env and
# config.yaml, then prune old archives with litellm-backup-prune.
#
# The salt key in the secrets file decrypts the provider keys stored in the database: a database
# dump is only useful together with it.
#
# Environment:
#   BACKUP_DIR             (/var/backup/litellm-env)
#   LITELLM_ENV_FILE       (/etc/secrets/litellm.env)
#   LITELLM_CONFIG_FILE    (/etc/litellm/config.yaml) the rendered LiteLLM configuration; empty on a
#                          datastore VM (no LiteLLM there): the archive then holds litellm.env alone
#   BACKUP_RETENTION_DAYS  (30)
#   BACKUP_ROOT            (/var/backup) passed on to litellm-backup-prune
# Exit codes: 0 success, 1 failure (missing input, I/O error).
set -euo pipefail
umask 077

backup_dir="${BACKUP_DIR:-/var/backup/litellm-env}"
env_file="${LITELLM_ENV_FILE:-/etc/secrets/litellm.env}"
config_file="${LITELLM_CONFIG_FILE-/etc/litellm/config.yaml}"
retention="${BACKUP_RETENTION_DAYS:-30}"

die() {
  echo "litellm-backup-env: $*" >&2
  exit 1
}

[ -d "$backup_dir" ] || die "backup directory $backup_dir does not exist"
[ -r "$env_file" ] || die "cannot read the secrets file $env_file"
[ -z "$config_file" ] || [ -r "$config_file" ] || die "cannot read the LiteLLM configuration $config_file"
target="$backup_dir/litellm-env-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"
[ ! -e "$target" ] || die "$target already exists"

stage="$(mktemp -d)"
# The backup folder may belong to another user (postgres owns the install guide's): the partial file
# is created new under a fresh name (noclobber: O_EXCL, never a path planted there) and renamed with
# mv -T, which replaces a planted name instead of following it.
tmp="$(mktemp -u "$backup_dir/.litellm-env-XXXXXX.partial")"
trap 'rm -rf "$stage"; rm -f "$tmp"' EXIT

cp -- "$env_file" "$stage/litellm.env"
members=(litellm.env)
if [ -n "$config_file" ]; then
  cp -L -- "$config_file" "$stage/config.yaml"
  members+=(config.yaml)
fi
chmod 0600 "$stage"/*
(set -C && tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf - "${members[@]}" >"$tmp") ||
  die "cannot write the archive"
mv -f -T -- "$tmp" "$target"
rm -rf "$stage"
trap - EXIT
echo "litellm-backup-env: wrote $target"

litellm-backup-prune "$backup_dir" "$retention"
