#!/usr/bin/env bash
# litellm-postgresql-password: set the LiteLLM role's password, without the password reaching the server.
#
# Runs as the PostgreSQL superuser (postgres) after postgresql.target. NixOS's ensureUsers creates the
# role without a password, while pg_hba asks for one on 127.0.0.1, where the container connects.
#
# The password is read from a file holding DATABASE_PASSWORD alone (the unit gets
# /etc/secrets/litellm-db.pass through systemd's LoadCredential, never the whole secrets file with the
# master and salt keys). Its SCRAM-SHA-256 verifier is computed here, the way PostgreSQL computes it
# (RFC 5802 and 7677: PBKDF2-HMAC-SHA-256 with 4096 iterations and a random 16-byte salt, then
# StoredKey = SHA-256(HMAC(salted, "Client Key")), ServerKey = HMAC(salted, "Server Key")), and only the
# verifier is sent: ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>'.
# PostgreSQL stores such a string as it is. The plaintext therefore never appears in a statement the
# server could log (log_statement, or the STATEMENT line of a failing statement).
#
# Environment:
#   LITELLM_DB_PASSWORD_FILE  the password file, password on its first line
#                             (default: $CREDENTIALS_DIRECTORY/database-password, from LoadCredential)
#   LITELLM_DB_USER           the role (litellm)
#   PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE ...  libpq connection of the superuser
#                             (default: the local socket as the current user, database postgres)
# Exit codes: 0 password set, 1 error (no or bad password file, no such role, connection failure).
set -euo pipefail

db_user="${LITELLM_DB_USER:-litellm}"
password_file="${LITELLM_DB_PASSWORD_FILE:-}"
if [ -z "$password_file" ] && [ -n "${CREDENTIALS_DIRECTORY:-}" ]; then
  password_file="$CREDENTIALS_DIRECTORY/database-password"
fi

die() {
  echo "litellm-postgresql-password: $*" >&2
  exit 1
}

[ -n "$password_file" ] ||
  die "no password file: set LITELLM_DB_PASSWORD_FILE (or LoadCredential=database-password:FILE)"

# Prints the verifier of the password in argv[1]; one-line error and exit 1 for a bad file.
# shellcheck disable=SC2016 # Python source, not shell
scram_verifier='
import base64, hashlib, hmac, os, sys

prog = "litellm-postgresql-password"
path = sys.argv[1]
try:
    with open(path, "rb") as handle:
        password = handle.readline().rstrip(b"\r\n")
except OSError as error:
    sys.exit(f"{prog}: cannot read password file {path}: {error.strerror}")
if not password:
    sys.exit(f"{prog}: password file {path} is empty")
# Printable ASCII is its own SASLprep form, so this is exactly what PostgreSQL would compute.
if any(byte < 0x21 or byte > 0x7E for byte in password):
    sys.exit(f"{prog}: password file {path}: the password must be printable ASCII without white space")
salt = os.urandom(16)
salted = hashlib.pbkdf2_hmac("sha256", password, salt, 4096)
stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
server_key = hmac.new(salted, b"Server Key", "sha256").digest()


def b64(data):
    return base64.b64encode(data).decode()


print(f"SCRAM-SHA-256$4096:{b64(salt)}${b64(stored_key)}:{b64(server_key)}")
'
verifier="$(python3 -c "$scram_verifier" "$password_file")" || exit 1
export LITELLM_DB_VERIFIER="$verifier" LITELLM_DB_USER="$db_user"

exists="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" <<'SQL'
\getenv db_user LITELLM_DB_USER
SELECT count(*) FROM pg_roles WHERE rolname = :'db_user';
SQL
)" || die "cannot connect to PostgreSQL"
[ "$exists" = "1" ] || die "role $db_user does not exist (it is created by postgresql-setup.service)"

psql -X -q -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" >/dev/null <<'SQL' || die "ALTER ROLE $db_user failed"
\getenv db_user LITELLM_DB_USER
\getenv db_verifier LITELLM_DB_VERIFIER
ALTER ROLE :"db_user" WITH LOGIN PASSWORD :'db_verifier';
SQL
echo "litellm-postgresql-password: password of role $db_user set (as its SCRAM-SHA-256 verifier)"
