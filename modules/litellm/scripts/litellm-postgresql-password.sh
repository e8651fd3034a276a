#!/usr/bin/env bash
# litellm-postgresql-password: set the LiteLLM role's password from the secrets file.
#
# Runs as the PostgreSQL superuser (postgres) after postgresql.target, with the secrets file as its
# EnvironmentFile. NixOS's ensureUsers creates the role without a password, while pg_hba asks for
# one on 127.0.0.1, where the container connects.
#
# Environment:
#   DATABASE_PASSWORD  the password (required; from the secrets file)
#   LITELLM_DB_USER    the role (litellm)
#   PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE ...  libpq connection of the superuser
#                      (default: the local socket as the current user, database postgres)
# The password reaches psql as a variable read from the environment by a script on stdin
# (\getenv, psql 15+), so it never appears in a command line.
# Exit codes: 0 password set, 1 error (missing password, no such role, connection failure).
set -euo pipefail

db_user="${LITELLM_DB_USER:-litellm}"

die() {
  echo "litellm-postgresql-password: $*" >&2
  exit 1
}

[ -n "${DATABASE_PASSWORD:-}" ] || die "DATABASE_PASSWORD is not set (is the secrets file the unit's EnvironmentFile?)"
export DATABASE_PASSWORD LITELLM_DB_USER="$db_user"

exists="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" <<'SQL'
\getenv db_user LITELLM_DB_USER
SELECT count(*) FROM pg_roles WHERE rolname = :'db_user';
SQL
)" || die "cannot connect to PostgreSQL"
[ "$exists" = "1" ] || die "role $db_user does not exist (it is created by postgresql-setup.service)"

psql -X -q -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" >/dev/null <<'SQL' || die "ALTER ROLE $db_user failed"
\getenv db_user LITELLM_DB_USER
\getenv db_password DATABASE_PASSWORD
ALTER ROLE :"db_user" WITH LOGIN PASSWORD :'db_password';
SQL
echo "litellm-postgresql-password: password of role $db_user set from the secrets file"
