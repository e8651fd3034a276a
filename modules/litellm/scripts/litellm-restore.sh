#!/usr/bin/env bash
# litellm-restore: restore the LiteLLM database and/or the Redis cache from the backups.
#
# usage: litellm-restore [--postgresql FILE|latest] [--redis FILE|latest] --confirm
#   With neither --postgresql nor --redis, both are restored from their latest backups; an empty
#   value (--redis=) is an error.
#   Without --confirm nothing is changed: it checks the backups, says what it would do and exits 2.
#
# Backups it takes:
#   PostgreSQL  the module's litellm-<UTC time>.dump (pg_dump -Fc), and the install guide's
#               <database>.sql.gz: plain SQL, gzip, as services.postgresqlBackup writes it
#               (pg_dump -C <database> | gzip), with or without its CREATE DATABASE.
#   Redis       any RDB snapshot: the module's redis-<UTC time>.rdb and the guide's
#               dump-<YYYYmmdd_HHMMSS>.rdb.
#   "latest" is the newest of the module's own backups, or when there is none yet (a VM just
#   adopted from the install guide), the guide's: <database>.sql.gz, the newest dump-*.rdb.
#
# Plain SQL is a psql script, and psql runs meta-commands (\! runs a shell command): a dump from
# another VM must not run anything but SQL. Every line starting with a backslash outside COPY data
# is refused before anything is touched, except pg_dump's own \restrict/\unrestrict and \connect to
# the database being restored; psql then runs the dump as LITELLM_PG_RUNAS (never root) inside its
# own \restrict with a random key, so a meta-command that slipped past the check is refused by psql.
#
# Order: both backups are checked first (pg_restore --list for the dump, gzip -t, the pg_dump
# header and the meta-commands for plain SQL, redis-check-rdb for the snapshot); then podman-litellm is stopped; Redis must answer and the snapshot must load into a
# temporary server; then the database is restored in one transaction (pg_restore
# --single-transaction --clean --if-exists: any error rolls everything back and leaves the
# database as it was; a plain SQL dump is loaded into a new database while the old one is kept
# under the name <database>_before_restore, and put back if anything fails); then Redis is restored, and podman-litellm is started again (also after a
# failure) if it was running.
#
# Redis restore (works with AOF on, Redis 7 and 8, local or remote server): the snapshot is loaded
# into a temporary redis-server (a private directory, unix socket only, no TCP port, appendonly no,
# no saves); the live server is emptied with FLUSHALL; then a Lua script on the temporary server
# walks its keys with SCAN and sends them with MIGRATE ... COPY REPLACE KEYS to the live server,
# database by database, keeping TTLs. Everything reaches the live server as ordinary commands, so
# its AOF stays consistent and nothing has to be copied into its data directory or restarted; the
# live password goes to redis-cli on stdin, never on a command line.
#
# Environment (defaults are the module's values):
#   BACKUP_ROOT             (/var/backup)
#   POSTGRESQL_BACKUP_DIR   ($BACKUP_ROOT/postgresql)   where "latest" dumps are looked for
#   REDIS_BACKUP_DIR        ($BACKUP_ROOT/redis)        where "latest" snapshots are looked for
#   LITELLM_DB_NAME         (litellm)
#   PGHOST, PGPORT, PGUSER, PGPASSWORD ...  libpq connection (default: local socket)
#   LITELLM_DB_USER         (litellm) when PGUSER is this role and PGPASSWORD is unset (an external
#                           server), the password is DATABASE_PASSWORD, else read from LITELLM_ENV_FILE
#   LITELLM_PG_RUNAS        (postgres) user that runs pg_restore and psql (via runuser when run as
#                           root); empty = the current user, refused as root for a plain SQL dump
#   REDIS_HOST (127.0.0.1), REDIS_PORT (6379)
#   REDIS_PASSWORD          (when unset: read from LITELLM_ENV_FILE, /etc/secrets/litellm.env)
#   LITELLM_MANAGE_SERVICE  (1) 0 = do not stop/start the service
#   LITELLM_SERVICE         (podman-litellm.service)
# Exit codes: 0 restored; 2 usage error or refused without --confirm; 1 a backup is missing or
#             corrupt, or the restore failed.
set -euo pipefail
umask 077

prog=litellm-restore
backup_root="${BACKUP_ROOT:-/var/backup}"
pg_dir="${POSTGRESQL_BACKUP_DIR:-$backup_root/postgresql}"
redis_dir="${REDIS_BACKUP_DIR:-$backup_root/redis}"
db_name="${LITELLM_DB_NAME:-litellm}"
pg_runas="${LITELLM_PG_RUNAS-postgres}"
redis_host="${REDIS_HOST:-127.0.0.1}"
redis_port="${REDIS_PORT:-6379}"
env_file="${LITELLM_ENV_FILE:-/etc/secrets/litellm.env}"
manage_service="${LITELLM_MANAGE_SERVICE:-1}"
service="${LITELLM_SERVICE:-podman-litellm.service}"

usage() {
  [ "$#" -eq 0 ] || echo "$prog: $*" >&2
  echo "usage: $prog [--postgresql FILE|latest] [--redis FILE|latest] --confirm" >&2
  exit 2
}
die() {
  echo "$prog: $*" >&2
  exit 1
}
empty_value() { # $1 = the flag
  echo "$prog: $1 needs FILE or latest, got an empty value; nothing was restored" >&2
  exit 2
}
say() {
  echo "$prog: $*"
}

pg_sel=""
redis_sel=""
confirm=0
# Only a missing flag means "both": an empty value (--redis= or --redis "$unset") is an error, so an
# empty variable in a script never widens a restore.
while [ "$#" -gt 0 ]; do
  case "$1" in
    --postgresql | --redis)
      if [ "$#" -ge 2 ] && [ -z "$2" ]; then empty_value "$1"; fi
      if [ "$#" -lt 2 ] || [ "${2#--}" != "$2" ]; then usage "$1 needs FILE or latest"; fi
      if [ "$1" = --postgresql ]; then pg_sel="$2"; else redis_sel="$2"; fi
      shift 2
      ;;
    --postgresql=* | --redis=*)
      flag="${1%%=*}"
      [ -n "${1#*=}" ] || empty_value "$flag"
      if [ "$flag" = --postgresql ]; then pg_sel="${1#*=}"; else redis_sel="${1#*=}"; fi
      shift
      ;;
    --confirm) confirm=1 && shift ;;
    -h | --help) usage ;;
    *) usage "unknown argument: $1" ;;
  esac
done
if [ -z "$pg_sel" ] && [ -z "$redis_sel" ]; then
  pg_sel=latest
  redis_sel=latest
fi

# Prints the newest file in $1 matching $2, else the newest matching $3 (the install guide's).
latest_of() {
  local newest
  [ -d "$1" ] || die "backup directory $1 does not exist"
  newest="$(find "$1" -mindepth 1 -maxdepth 1 -type f -name "$2" -printf '%f\n' | sort | tail -n1)"
  if [ -z "$newest" ]; then
    newest="$(find "$1" -mindepth 1 -maxdepth 1 -type f -name "$3" -printf '%f\n' | sort | tail -n1)"
  fi
  [ -n "$newest" ] || die "no backup matching $2 or $3 in $1"
  printf '%s/%s' "$1" "$newest"
}

day='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
stamp="${day}T[0-9][0-9][0-9][0-9][0-9][0-9]Z"
guide_stamp="${day}_[0-9][0-9][0-9][0-9][0-9][0-9]"
pg_file=""
pg_format=""
redis_file=""
if [ -n "$pg_sel" ]; then
  if [ "$pg_sel" = latest ]; then
    pg_file="$(latest_of "$pg_dir" "litellm-$stamp.dump" "$db_name.sql.gz")"
  else
    pg_file="$pg_sel"
  fi
  [ -f "$pg_file" ] || die "PostgreSQL dump $pg_file does not exist"
  [ -r "$pg_file" ] || die "cannot read PostgreSQL dump $pg_file"
fi
if [ -n "$redis_sel" ]; then
  if [ "$redis_sel" = latest ]; then
    redis_file="$(latest_of "$redis_dir" "redis-$stamp.rdb" "dump-$guide_stamp.rdb")"
  else
    redis_file="$redis_sel"
  fi
  [ -f "$redis_file" ] || die "Redis snapshot $redis_file does not exist"
  [ -r "$redis_file" ] || die "cannot read Redis snapshot $redis_file"
fi

# sql_filter check|load: reads a plain SQL dump on stdin. Lines starting with a backslash outside
# COPY data are psql meta-commands; the only ones a pg_dump script holds are \restrict and
# \unrestrict (dropped: the load brings its own key) and \connect to the database itself (pg_dump -C).
# check: prints nothing, or the first other meta-command as an error, exit 3.
# load: prints the script for psql, inside \restrict with the key in $restrict_key; \connect is let
# through between \unrestrict and \restrict; stops (exit 3) before any other meta-command.
sql_filter() {
  awk -v mode="$1" -v key="${restrict_key:-}" -v db="$db_name" '
    BEGIN {
      ok["\\connect " db] = 1
      ok["\\connect -reuse-previous=on \"dbname='"'"'" db "'"'"'\""] = 1
      if (mode == "load") print "\\restrict " key
    }
    copy {
      if ($0 == "\\.") copy = 0
      if (mode == "load") print
      next
    }
    /^COPY .* FROM stdin;$/ { copy = 1 }
    /^\\/ {
      if ($0 ~ /^\\(un)?restrict [A-Za-z0-9]+$/) next
      if ($0 in ok) {
        if (mode == "load") print "\\unrestrict " key "\n" $0 "\n\\restrict " key
        next
      }
      word = substr($0, 2)
      sub(/[^A-Za-z!?]+.*$/, "", word)
      printf "line %d is the psql meta-command \\%s, which a pg_dump script never holds\n", NR, substr(word, 1, 20) > "/dev/stderr"
      exit 3
    }
    mode == "load" { print }
  '
}

# Check every backup before anything is touched.
pg_created_db=""
if [ -n "$pg_file" ]; then
  if [ "$(head -c 2 "$pg_file" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
    # Plain SQL in gzip, as services.postgresqlBackup writes it.
    pg_format=sql.gz
    check_out="$(gzip -t -- "$pg_file" 2>&1)" ||
      die "$pg_file is a damaged gzip file (${check_out%%$'\n'*}); nothing was changed"
    header="$(gzip -dc -- "$pg_file" | head -c 4096 || true)"
    case "$header" in
      *"-- PostgreSQL database dump"*) ;;
      *) die "$pg_file does not hold a pg_dump SQL script; nothing was changed" ;;
    esac
    if [ "${pg_runas:-$(id -un)}" = root ]; then
      die "a plain SQL dump is never run by psql as root; set LITELLM_PG_RUNAS to the PostgreSQL OS user; nothing was changed"
    fi
    meta_out="$(gzip -dc -- "$pg_file" | sql_filter check 2>&1)" ||
      die "$pg_file: ${meta_out:-cannot be read}; nothing was changed"
    # pg_dump -C (the guide's default) creates the database itself: it must be ours.
    pg_created_db="$(gzip -dc -- "$pg_file" | awk '/^CREATE DATABASE / && name == "" { name = $3 } END { print name }')"
    pg_created_db="${pg_created_db#\"}"
    pg_created_db="${pg_created_db%\"}"
    if [ -n "$pg_created_db" ] && [ "$pg_created_db" != "$db_name" ]; then
      die "$pg_file creates database $pg_created_db, not $db_name; nothing was changed"
    fi
  else
    pg_format=custom
    if ! check_out="$(pg_restore --list "$pg_file" 2>&1 >/dev/null)"; then
      die "$pg_file is not a readable pg_dump archive (${check_out%%$'\n'*}); nothing was changed"
    fi
  fi
fi
if [ -n "$redis_file" ]; then
  [ "$(head -c 5 "$redis_file")" = "REDIS" ] ||
    die "$redis_file is not a Redis RDB snapshot; nothing was changed"
  if command -v redis-check-rdb >/dev/null 2>&1; then
    check_out="$(redis-check-rdb "$redis_file" 2>&1)" ||
      die "$redis_file is damaged ($(printf '%s\n' "$check_out" | grep -A1 -m1 'ERROR DETECTED' | tail -n1)); nothing was changed"
  fi
fi

if [ "$confirm" != 1 ]; then
  {
    echo "$prog: refusing to restore without --confirm. It would:"
    if [ "$manage_service" != 0 ]; then
      echo "  - stop $service while restoring and start it again afterwards if it was running"
    fi
    if [ -n "$pg_file" ]; then
      echo "  - replace the content of PostgreSQL database $db_name with $pg_file"
    fi
    if [ -n "$redis_file" ]; then
      echo "  - delete every key of Redis at $redis_host:$redis_port and load $redis_file"
    fi
    echo "Run it again with --confirm to do so."
  } >&2
  exit 2
fi

# Prints the value of variable $1 of the secrets file (nothing when absent or unreadable).
secret_from_env_file() {
  if [ -r "$env_file" ]; then
    grep -m1 "^$1=" "$env_file" | cut -d= -f2- || true
  fi
}

if [ -n "$pg_file" ] && [ -z "${PGPASSWORD:-}" ] && [ "${PGUSER:-}" = "${LITELLM_DB_USER:-litellm}" ]; then
  if [ -z "${DATABASE_PASSWORD:-}" ]; then
    DATABASE_PASSWORD="$(secret_from_env_file DATABASE_PASSWORD)"
  fi
  if [ -n "$DATABASE_PASSWORD" ]; then export PGPASSWORD="$DATABASE_PASSWORD"; fi
fi

# The key of the \restrict the dump runs inside: random, never in the dump.
restrict_key="$(od -An -v -tx1 -N24 /dev/urandom | tr -d ' \n')"

# Runs "$@" as the PostgreSQL OS user.
run_pg() {
  if [ -z "$pg_runas" ] || [ "$pg_runas" = "$(id -un)" ]; then
    "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    runuser -u "$pg_runas" -- "$@"
  else
    die "run as root or as $pg_runas (LITELLM_PG_RUNAS) to restore PostgreSQL"
  fi
}

work="$(mktemp -d)"
redis_tmp_pid=""
service_was_active=0
cleanup() {
  if [ -n "$redis_tmp_pid" ]; then
    kill "$redis_tmp_pid" 2>/dev/null || true
    wait "$redis_tmp_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  if [ "$service_was_active" = 1 ]; then
    if systemctl start "$service"; then
      say "started $service again"
    else
      echo "$prog: could not start $service again; run: systemctl start $service" >&2
    fi
  fi
}
trap cleanup EXIT

if [ "$manage_service" != 0 ]; then
  if systemctl is-active --quiet "$service"; then
    say "stopping $service"
    systemctl stop "$service"
    service_was_active=1
  fi
fi

# Redis first gets ready: the live server must answer and the snapshot must load, before the
# database is touched.
if [ -n "$redis_file" ]; then
  if [ -z "${REDIS_PASSWORD+set}" ]; then
    REDIS_PASSWORD="$(secret_from_env_file REDIS_PASSWORD)"
  fi
  live_password="${REDIS_PASSWORD:-}"
  live() {
    if [ -n "$live_password" ]; then
      REDISCLI_AUTH="$live_password" redis-cli -h "$redis_host" -p "$redis_port" --no-auth-warning "$@"
    else
      redis-cli -h "$redis_host" -p "$redis_port" "$@"
    fi
  }
  [ "$(live PING 2>&1)" = PONG ] ||
    die "Redis at $redis_host:$redis_port does not answer PING (wrong REDIS_PASSWORD?); nothing was changed"

  say "loading $redis_file into a temporary Redis server"
  cp -- "$redis_file" "$work/dump.rdb"
  socket="$work/redis.sock"
  cat >"$work/redis.conf" <<CONF
port 0
unixsocket $socket
unixsocketperm 700
dir $work
dbfilename dump.rdb
appendonly no
save ""
daemonize no
logfile $work/redis.log
CONF
  redis-server "$work/redis.conf" &
  redis_tmp_pid=$!
  tmp_redis() {
    redis-cli -s "$socket" "$@"
  }
  for _ in $(seq 1 600); do
    if ! kill -0 "$redis_tmp_pid" 2>/dev/null; then
      die "the temporary Redis server could not load $redis_file: $(tail -n 3 "$work/redis.log" 2>/dev/null | tr '\n' ' '); nothing was changed"
    fi
    if [ "$(tmp_redis PING 2>/dev/null)" = PONG ] &&
      tmp_redis INFO persistence 2>/dev/null | grep -q '^loading:0'; then
      break
    fi
    sleep 0.1
  done
  [ "$(tmp_redis PING 2>/dev/null)" = PONG ] || die "the temporary Redis server did not start; nothing was changed"

  # shellcheck disable=SC2016 # Lua source, not shell
  migrate_lua='
local moved, cursor = 0, "0"
repeat
  local reply = redis.call("SCAN", cursor, "COUNT", 200)
  cursor = reply[1]
  local keys = reply[2]
  if #keys > 0 then
    if ARGV[4] == "" then
      redis.call("MIGRATE", ARGV[1], ARGV[2], "", ARGV[3], 10000, "COPY", "REPLACE", "KEYS", unpack(keys))
    else
      redis.call("MIGRATE", ARGV[1], ARGV[2], "", ARGV[3], 10000, "COPY", "REPLACE", "AUTH", ARGV[4], "KEYS", unpack(keys))
    end
    moved = moved + #keys
  end
until cursor == "0"
return moved'

  # Databases holding keys in the snapshot, from "db3:keys=10,expires=0,avg_ttl=0".
  dbs=()
  while IFS= read -r line; do
    if [[ "$line" =~ ^db([0-9]+):keys= ]]; then dbs+=("${BASH_REMATCH[1]}"); fi
  done < <(tmp_redis INFO keyspace | tr -d '\r')
fi

if [ -n "$pg_file" ] && [ "$pg_format" = custom ]; then
  say "restoring PostgreSQL database $db_name from $pg_file"
  # The dump is read through stdin so the PostgreSQL user needs no access to the backup folder.
  if ! run_pg pg_restore --single-transaction --clean --if-exists --exit-on-error \
    --dbname="$db_name" <"$pg_file"; then
    die "restoring $pg_file failed; the transaction was rolled back and database $db_name is unchanged"
  fi
  say "restored PostgreSQL database $db_name from $pg_file"
fi

# A plain SQL dump has no DROP statements and may create the database itself: it is loaded into a
# new, empty database while the current one waits under another name, and comes back on failure.
if [ -n "$pg_file" ] && [ "$pg_format" = sql.gz ]; then
  kept="${db_name}_before_restore"
  export LITELLM_RESTORE_DB="$db_name" LITELLM_RESTORE_KEPT="$kept"
  admin_sql() { # SQL on stdin, in database postgres; prints tuples only
    run_pg psql -X -q -At -v ON_ERROR_STOP=1 -d postgres
  }
  state="$(admin_sql <<'SQL'
\getenv db LITELLM_RESTORE_DB
\getenv kept LITELLM_RESTORE_KEPT
SELECT (SELECT CASE WHEN rolsuper THEN 'yes' ELSE 'no' END FROM pg_roles WHERE rolname = current_user)
  || ' ' || (SELECT count(*) FROM pg_database WHERE datname = :'kept')
  || ' ' || coalesce((SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db'), '-');
SQL
)" || die "cannot connect to PostgreSQL as its superuser; nothing was changed"
  read -r is_super kept_count db_owner <<<"$state"
  [ "$is_super" = yes ] || die "restoring a plain SQL dump needs the PostgreSQL superuser (PGUSER); nothing was changed"
  [ "$kept_count" = 0 ] ||
    die "database $kept exists (left by an earlier restore): check it, drop it, run again; nothing was changed"
  [ "$db_owner" != - ] || db_owner="${LITELLM_DB_USER:-litellm}"
  export LITELLM_RESTORE_OWNER="$db_owner"

  say "restoring PostgreSQL database $db_name from $pg_file (plain SQL); the current one waits as $kept"
  admin_sql >/dev/null <<'SQL' || die "could not set database $db_name aside; nothing was changed"
\getenv db LITELLM_RESTORE_DB
\getenv kept LITELLM_RESTORE_KEPT
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
  WHERE datname = :'db' AND pid <> pg_backend_pid();
ALTER DATABASE :"db" RENAME TO :"kept";
SQL
  loaded=1
  if [ -z "$pg_created_db" ]; then
    admin_sql >/dev/null <<'SQL' || loaded=0
\getenv db LITELLM_RESTORE_DB
\getenv owner LITELLM_RESTORE_OWNER
CREATE DATABASE :"db" OWNER :"owner";
SQL
    if [ "$loaded" = 1 ]; then
      gzip -dc -- "$pg_file" | sql_filter load | run_pg psql -X -q -v ON_ERROR_STOP=1 \
        --single-transaction -d "$db_name" >/dev/null || loaded=0
    fi
  else
    # CREATE DATABASE cannot run in a transaction; the script connects to the new database itself.
    gzip -dc -- "$pg_file" | sql_filter load | run_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres \
      >/dev/null || loaded=0
  fi
  if [ "$loaded" = 1 ]; then
    admin_sql >/dev/null <<'SQL' || echo "$prog: could not drop $kept; drop it by hand" >&2
\getenv kept LITELLM_RESTORE_KEPT
DROP DATABASE :"kept" WITH (FORCE);
SQL
    say "restored PostgreSQL database $db_name from $pg_file"
  else
    admin_sql >/dev/null <<'SQL' || die "restoring $pg_file failed, and $kept could not be renamed back to $db_name: do so by hand (ALTER DATABASE ... RENAME)"
\getenv db LITELLM_RESTORE_DB
\getenv kept LITELLM_RESTORE_KEPT
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
ALTER DATABASE :"kept" RENAME TO :"db";
SQL
    die "restoring $pg_file failed; database $db_name is back as it was"
  fi
fi

if [ -n "$redis_file" ]; then
  say "deleting every key of Redis at $redis_host:$redis_port (FLUSHALL)"
  [ "$(live FLUSHALL)" = OK ] || die "FLUSHALL on Redis at $redis_host:$redis_port failed"
  total=0
  for db in "${dbs[@]}"; do
    # -x appends stdin (the live password) as the last argument: ARGV[4].
    moved="$(printf '%s' "$live_password" |
      redis-cli -s "$socket" -n "$db" -x EVAL "$migrate_lua" 0 "$redis_host" "$redis_port" "$db")" ||
      die "copying database $db to Redis at $redis_host:$redis_port failed: $moved"
    case "$moved" in
      '' | *[!0-9]*) die "copying database $db to Redis at $redis_host:$redis_port failed: $moved" ;;
    esac
    total=$((total + moved))
  done
  say "restored $total Redis key(s) from $redis_file into $redis_host:$redis_port"
fi

say "restore finished"
