#!/usr/bin/env bash
# litellm-upgrade-helper: the steps `tappaas-litellm upgrade` runs on the VM. The tool sends this
# very file over SSH and runs it as root with bash (`bash -c <this file> litellm-upgrade-helper
# SUBCOMMAND ...`), so it works on a VM deployed before the tool knew it.
#
# usage: litellm-upgrade-helper state
#        litellm-upgrade-helper stop | start
#        litellm-upgrade-helper backup
#        litellm-upgrade-helper check-dump FILE
#        litellm-upgrade-helper restore-dump FILE
#        litellm-upgrade-helper pg-allow-empty FROM_MAJOR DUMP
#        litellm-upgrade-helper pg-finish
#        litellm-upgrade-helper pg-set-aside MAJOR
#        litellm-upgrade-helper switch-generation N switch|test
#        litellm-upgrade-helper drop-generation N
#
#   state              prints KEY=VALUE lines: generation (number of the system profile's current
#                      generation), keys (a SHA-256 of the master and salt keys, never the keys),
#                      pg_major (of the running server), migrations (count and SHA-256 of LiteLLM's
#                      _prisma_migrations: name, checksum, finished or not; "none" without the
#                      table, "unknown" when the database does not answer), service (LiteLLM's unit)
#   stop               holds LiteLLM down, then stops it: the hold file (LITELLM_HOLD_FILE) is the
#                      unit's ConditionPathExists=!..., so nothing starts it until `start`, neither
#                      switch-to-configuration (which starts the units active targets want) nor
#                      litellm-restore; it lives in /run, so a reboot clears it
#   start              removes the hold file, starts LiteLLM (podman-litellm.service) and, without
#                      waiting, litellm-service-keys.service where it exists
#   backup             runs the three backup units now and prints dump=, redis=, env= (their files)
#   check-dump FILE    restores FILE into the scratch database <name>_upgrade_check, compares every
#                      table's row count with the live database, and drops the scratch database
#   restore-dump FILE  litellm-restore --postgresql FILE --confirm
#   pg-allow-empty     lets litellm-postgresql-guard initialise the new major version's empty data
#                      directory once, next to the old one (the marker file names FROM_MAJOR and DUMP)
#   pg-finish          removes that marker
#   pg-set-aside MAJOR renames the data directory of MAJOR (a failed upgrade) to
#                      MAJOR.failed-<UTC time>; refuses while that version is the running one
#   switch-generation  makes system generation N current again and activates it
#   drop-generation N  deletes generation N of the system profile (a failed upgrade's), so a later
#                      `nixos-rebuild switch --rollback` cannot land on it; never the current one
#
# Environment (defaults are the module's values):
#   LITELLM_DB_NAME (litellm), LITELLM_PG_RUNAS (postgres; empty = the current user), PGHOST ...
#   LITELLM_ENV_FILE (/etc/secrets/litellm.env), BACKUP_ROOT (/var/backup),
#   PG_STATE_DIR (/var/lib/postgresql), SYSTEM_PROFILE (/nix/var/nix/profiles/system),
#   LITELLM_SERVICE (podman-litellm.service), LITELLM_HOLD_FILE (/run/litellm-upgrade-hold)
# Exit codes: 0 done; 1 the step failed (one line on stderr says why); 2 usage error.
set -euo pipefail
umask 077
export PATH="$PATH:/run/current-system/sw/bin"

prog=litellm-upgrade-helper
db_name="${LITELLM_DB_NAME:-litellm}"
pg_runas="${LITELLM_PG_RUNAS-postgres}"
env_file="${LITELLM_ENV_FILE:-/etc/secrets/litellm.env}"
backup_root="${BACKUP_ROOT:-/var/backup}"
pg_state_dir="${PG_STATE_DIR:-/var/lib/postgresql}"
profile="${SYSTEM_PROFILE:-/nix/var/nix/profiles/system}"
service="${LITELLM_SERVICE:-podman-litellm.service}"
# The module's podman-litellm.service and litellm-service-keys.service have
# ConditionPathExists=!/run/litellm-upgrade-hold (modules/litellm/lib/upgrade-hold.nix).
hold="${LITELLM_HOLD_FILE:-/run/litellm-upgrade-hold}"
keys_service=litellm-service-keys.service
marker="$pg_state_dir/.litellm-major-upgrade"

die() {
  echo "$prog: $*" >&2
  exit 1
}
usage() {
  echo "$prog: $*" >&2
  echo "usage: $prog state|stop|start|backup|check-dump FILE|restore-dump FILE|pg-allow-empty FROM DUMP|pg-finish|pg-set-aside MAJOR|switch-generation N switch|test|drop-generation N" >&2
  exit 2
}

# Runs "$@" as the PostgreSQL OS user (as litellm-restore does).
run_pg() {
  if [ -z "$pg_runas" ] || [ "$pg_runas" = "$(id -un)" ]; then
    "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    runuser -u "$pg_runas" -- "$@"
  else
    die "run as root or as $pg_runas (LITELLM_PG_RUNAS)"
  fi
}

sql() { # $1 = database; SQL on stdin; tuples only
  run_pg psql -X -q -At -v ON_ERROR_STOP=1 -d "$1"
}

secret() {
  grep -m1 "^$1=" "$env_file" | cut -d= -f2- || true
}

number_of_generation() {
  local link
  link="$(readlink "$profile" 2>/dev/null || true)"
  link="${link##*/}"
  link="${link#system-}"
  link="${link%-link}"
  case "$link" in
    '' | *[!0-9]*) echo "" ;;
    *) echo "$link" ;;
  esac
}

migrations() {
  local exists
  exists="$(sql "$db_name" <<<"SELECT to_regclass('public._prisma_migrations') IS NOT NULL;" 2>/dev/null)" || {
    echo unknown
    return
  }
  if [ "$exists" != t ]; then
    echo none
    return
  fi
  local rows
  rows="$(sql "$db_name" <<'SQL' 2>/dev/null
SELECT migration_name || ' ' || checksum || ' ' || (finished_at IS NOT NULL)::text
  FROM public._prisma_migrations WHERE rolled_back_at IS NULL ORDER BY migration_name, checksum;
SQL
)" || {
    echo unknown
    return
  }
  local count=0
  [ -z "$rows" ] || count="$(printf '%s\n' "$rows" | wc -l)"
  echo "$count $(printf '%s' "$rows" | sha256sum | cut -d' ' -f1)"
}

table_counts() { # $1 = database: "table rows" per line, every table of schema public
  sql "$1" <<'SQL'
SELECT table_name || ' ' || (xpath('/row/c/text()', query_to_xml(
         format('SELECT count(*) AS c FROM public.%I', table_name), false, true, '')))[1]::text
  FROM information_schema.tables
 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
 ORDER BY table_name;
SQL
}

cmd_state() {
  echo "generation=$(number_of_generation)"
  if [ -r "$env_file" ]; then
    local master salt
    master="$(secret LITELLM_MASTER_KEY)"
    salt="$(secret LITELLM_SALT_KEY)"
    if [ -n "$master" ] && [ -n "$salt" ]; then
      echo "keys=$(printf '%s\n%s' "$master" "$salt" | sha256sum | cut -d' ' -f1)"
    else
      echo "keys=missing"
    fi
  else
    echo "keys=missing"
  fi
  local version
  version="$(sql postgres <<<"SHOW server_version_num;" 2>/dev/null || true)"
  case "$version" in
    '' | *[!0-9]*) echo "pg_major=" ;;
    *) echo "pg_major=$((version / 10000))" ;;
  esac
  echo "migrations=$(migrations)"
  echo "service=$(systemctl is-active "$service" 2>/dev/null || true)"
}

newest() { # $1 = folder, $2 = pattern, $3 = not older than (epoch seconds)
  local file
  file="$(find "$1" -mindepth 1 -maxdepth 1 -type f -name "$2" -newermt "@$3" -printf '%f\n' 2>/dev/null | sort | tail -n1)"
  [ -n "$file" ] || die "no backup matching $2 in $1 from this run"
  printf '%s/%s\n' "$1" "$file"
}

cmd_backup() {
  local since
  since=$(($(date +%s) - 1))
  systemctl start litellm-backup-postgresql.service litellm-backup-redis.service \
    litellm-backup-env.service || die "a backup unit failed; see: journalctl -u 'litellm-backup-*' -n 50"
  echo "dump=$(newest "$backup_root/postgresql" 'litellm-*.dump' "$since")"
  echo "redis=$(newest "$backup_root/redis" 'redis-*.rdb' "$since")"
  echo "env=$(newest "$backup_root/litellm-env" 'litellm-env-*.tar.gz' "$since")"
}

cmd_check_dump() {
  local file="$1" scratch="${db_name}_upgrade_check"
  [ -f "$file" ] || die "dump $file does not exist"
  export LITELLM_SCRATCH_DB="$scratch"
  drop_scratch() {
    sql postgres >/dev/null <<'SQL' || echo "$prog: could not drop database $LITELLM_SCRATCH_DB; drop it by hand" >&2
\getenv scratch LITELLM_SCRATCH_DB
DROP DATABASE IF EXISTS :"scratch" WITH (FORCE);
SQL
  }
  drop_scratch
  trap drop_scratch EXIT
  sql postgres >/dev/null <<'SQL' || die "cannot create the scratch database $scratch"
\getenv scratch LITELLM_SCRATCH_DB
CREATE DATABASE :"scratch";
SQL
  local out
  out="$(run_pg pg_restore --no-owner --no-acl --exit-on-error --dbname="$scratch" <"$file" 2>&1)" ||
    die "$file does not restore: ${out%%$'\n'*}"
  local live restored
  live="$(table_counts "$db_name")" || die "cannot count the rows of database $db_name"
  restored="$(table_counts "$scratch")" || die "cannot count the rows of the scratch database"
  if [ "$live" != "$restored" ]; then
    local first
    first="$(diff <(printf '%s\n' "$live") <(printf '%s\n' "$restored") | grep -m1 '^[<>]' || true)"
    die "the restored dump differs from database $db_name (first difference: $first)"
  fi
  local tables=0 rows=0 name count
  while read -r name count; do
    [ -n "$name" ] || continue
    tables=$((tables + 1))
    rows=$((rows + count))
  done <<<"$live"
  echo "tables=$tables"
  echo "rows=$rows"
}

cmd_stop() {
  printf 'held by litellm-upgrade-helper since %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$hold" ||
    die "cannot write $hold"
  systemctl stop "$service" || die "cannot stop $service"
  echo "hold=$hold"
}

cmd_start() {
  rm -f -- "$hold"
  systemctl start "$service" || die "cannot start $service; see: journalctl -u $service -n 50"
  # The service keys' reconciler, if a switch during the hold skipped it (it waits for LiteLLM).
  if systemctl cat "$keys_service" >/dev/null 2>&1; then
    systemctl start --no-block "$keys_service" || die "cannot start $keys_service"
  fi
}

cmd_pg_allow_empty() {
  local from="$1" dump="$2"
  case "$from" in '' | *[!0-9]*) usage "pg-allow-empty needs the current major version" ;; esac
  [ -f "$dump" ] || die "dump $dump does not exist"
  [ -d "$pg_state_dir/$from" ] || die "$pg_state_dir/$from does not exist"
  # postgres owns $pg_state_dir: the marker is written to a new file (noclobber: O_EXCL, never a
  # planted symlink) and renamed over whatever has the marker's name.
  local tmp
  tmp="$(mktemp -u "$marker.XXXXXX")"
  (set -C && printf 'from=%s\ndump=%s\n' "$from" "$dump" >"$tmp") || die "cannot write $tmp"
  mv -f -T -- "$tmp" "$marker"
  echo "marker=$marker"
}

cmd_pg_set_aside() {
  local major="$1" running
  case "$major" in '' | *[!0-9]*) usage "pg-set-aside needs a major version" ;; esac
  [ -d "$pg_state_dir/$major" ] || {
    echo "kept="
    return
  }
  running="$(sql postgres <<<"SHOW server_version_num;" 2>/dev/null || true)"
  case "$running" in
    '' | *[!0-9]*) ;;
    *) [ "$((running / 10000))" != "$major" ] || die "PostgreSQL $major is the running version; not moving $pg_state_dir/$major" ;;
  esac
  local aside
  aside="$pg_state_dir/$major.failed-$(date -u +%Y%m%dT%H%M%SZ)"
  # -T: a name postgres planted (a symlink to a folder) fails the rename, never receives the cluster
  mv -T -- "$pg_state_dir/$major" "$aside"
  echo "kept=$aside"
}

cmd_switch_generation() {
  local number="$1" activation="$2"
  case "$number" in '' | *[!0-9]*) usage "switch-generation needs a generation number" ;; esac
  case "$activation" in switch | test) ;; *) usage "switch-generation: switch or test, not '$activation'" ;; esac
  nix-env --profile "$profile" --switch-generation "$number" </dev/null ||
    die "cannot make generation $number of $profile current"
  "$profile/bin/switch-to-configuration" "$activation" </dev/null ||
    die "switch-to-configuration $activation of generation $number failed"
  echo "generation=$(number_of_generation)"
}

cmd_drop_generation() {
  local number="$1"
  case "$number" in '' | *[!0-9]*) usage "drop-generation needs a generation number" ;; esac
  [ "$number" != "$(number_of_generation)" ] || die "generation $number is the current one; not deleting it"
  nix-env --profile "$profile" --delete-generations "$number" </dev/null ||
    die "cannot delete generation $number of $profile"
  echo "dropped=$number"
}

[ "$#" -ge 1 ] || usage "a subcommand is needed"
command="$1"
shift
case "$command:$#" in
  state:0) cmd_state ;;
  stop:0) cmd_stop ;;
  start:0) cmd_start ;;
  backup:0) cmd_backup ;;
  check-dump:1) cmd_check_dump "$1" ;;
  restore-dump:1) litellm-restore --postgresql "$1" --confirm ;;
  pg-allow-empty:2) cmd_pg_allow_empty "$1" "$2" ;;
  pg-finish:0) rm -f -- "$marker" ;;
  pg-set-aside:1) cmd_pg_set_aside "$1" ;;
  switch-generation:2) cmd_switch_generation "$1" "$2" ;;
  drop-generation:1) cmd_drop_generation "$1" ;;
  *) usage "unknown subcommand or wrong arguments: $command $*" ;;
esac
