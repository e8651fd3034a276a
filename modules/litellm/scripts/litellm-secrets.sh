#!/usr/bin/env bash
# litellm-secrets: create the LiteLLM secrets file once, and add variables missing from an older one.
#
# Environment (defaults are the module's values):
#   LITELLM_ENV_FILE               secrets file (/etc/secrets/litellm.env), KEY=value lines, mode 0600
#   LITELLM_REDIS_PASSWORD_FILE    REDIS_PASSWORD alone on one line (/etc/secrets/litellm-redis.pass), for
#                                  the Redis server's requirePassFile; empty = do not write it
#   LITELLM_DATABASE_PASSWORD_FILE DATABASE_PASSWORD alone on one line (litellm-db.pass next to it), for
#                                  the unit that sets the PostgreSQL role's password; empty = do not write it
#   LITELLM_DB_PASSWORD_SOURCE     optional: file holding an existing PostgreSQL server's password;
#                                  DATABASE_PASSWORD is then taken from it instead of generated
#   LITELLM_REDIS_PASSWORD_SOURCE  optional: the same for an existing Redis server's REDIS_PASSWORD
#   LITELLM_REDIS_EXPORTER_PASSWORD_FILE  optional: the password of the Redis exporter's own Redis user
#                                  (64 hex digits, 0600), generated once when the file is missing or
#                                  empty and never changed; it is not in the secrets file
#
# Variables written (values generated from /dev/urandom):
#   LITELLM_MASTER_KEY  sk- followed by 64 hex digits (the admin API key)
#   LITELLM_SALT_KEY    sk- followed by 64 hex digits, not equal to the master key; it encrypts the
#                       provider keys stored in the database and must never change afterwards.
#                       Adoption: when the file already has LITELLM_MASTER_KEY but no LITELLM_SALT_KEY
#                       (a VM installed by the install guide), LiteLLM has encrypted every stored
#                       provider key with the master key until now, so the salt key is set to the
#                       master key's value instead of a new random one.
#   DATABASE_PASSWORD   64 hex digits (or the content of LITELLM_DB_PASSWORD_SOURCE)
#   REDIS_PASSWORD      64 hex digits (or the content of LITELLM_REDIS_PASSWORD_SOURCE)
#   UI_USERNAME         admin
#   UI_PASSWORD         32 random letters and digits
#
# An existing variable is never changed; missing ones are appended; a complete file is left
# byte-for-byte as it is. Only variable names are printed, never values.
# One exception: DATABASE_URL, DIRECT_URL and REDIS_URL (an older or hand-edited file) would win over
# the connection the module gives the container (LiteLLM prefers them to DATABASE_HOST, REDIS_HOST,
# ...), so such a line is turned into a comment that keeps its value ("#disabled by litellm-secrets:
# NAME=value"), and the name is printed.
# Exit codes: 0 success, 1 error (unreadable source file, bad existing file, I/O error).
set -euo pipefail
umask 077

env_file="${LITELLM_ENV_FILE:-/etc/secrets/litellm.env}"
redis_pass_file="${LITELLM_REDIS_PASSWORD_FILE-/etc/secrets/litellm-redis.pass}"
db_pass_file="${LITELLM_DATABASE_PASSWORD_FILE-$(dirname "$env_file")/litellm-db.pass}"
db_source="${LITELLM_DB_PASSWORD_SOURCE:-}"
redis_source="${LITELLM_REDIS_PASSWORD_SOURCE:-}"

die() {
  echo "litellm-secrets: $*" >&2
  exit 1
}

random_hex() { # $1 = number of random bytes; prints 2*$1 hex digits
  od -An -v -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

random_alnum() { # $1 = length; letters and digits only
  local out=""
  while [ "${#out}" -lt "$1" ]; do
    out="$out$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')"
  done
  printf '%s' "${out:0:$1}"
}

read_source() { # $1 = file holding a password; prints its first line without the newline
  local src="$1" value=""
  [ -r "$src" ] || die "cannot read password source file $src"
  IFS= read -r value <"$src" || true
  [ -n "$value" ] || die "password source file $src is empty"
  case "$value" in
    *[[:space:]]*) die "password source file $src: the password must not contain white space" ;;
  esac
  printf '%s' "$value"
}

# Prints the value of variable $1 in the env file (nothing when it is absent).
get_var() {
  local line
  line="$(grep -m1 -E "^$1=" "$env_file" 2>/dev/null || true)"
  printf '%s' "${line#*=}"
}

has_var() {
  [ -f "$env_file" ] && grep -qE "^$1=" "$env_file"
}

[ ! -e "$env_file" ] || [ -f "$env_file" ] || die "$env_file exists but is not a regular file"
env_dir="$(dirname "$env_file")"
mkdir -p "$env_dir"

# Generate every missing variable, in a fixed order.
additions=""
added_names=()
add() { # $1 = name, $2 = value
  additions+="$1=$2"$'\n'
  added_names+=("$1")
}

# Each value is assigned before use, so a failure inside $(...) stops the script (set -e).
if ! has_var LITELLM_MASTER_KEY; then
  value="sk-$(random_hex 32)"
  add LITELLM_MASTER_KEY "$value"
fi
adopted=0
if ! has_var LITELLM_SALT_KEY; then
  master="$(get_var LITELLM_MASTER_KEY)"
  if has_var LITELLM_MASTER_KEY; then
    # LiteLLM encrypts with the master key when LITELLM_SALT_KEY is unset: keep that key.
    [ -n "$master" ] || die "LITELLM_MASTER_KEY in $env_file is empty"
    add LITELLM_SALT_KEY "$master"
    adopted=1
  else
    master="$(printf '%s' "$additions" | grep -m1 '^LITELLM_MASTER_KEY=' | cut -d= -f2- || true)"
    value="sk-$(random_hex 32)"
    while [ "$value" = "$master" ]; do value="sk-$(random_hex 32)"; done
    add LITELLM_SALT_KEY "$value"
  fi
fi
# $1 = variable, $2 = optional source file of an existing server's password.
add_password() {
  local name="$1" source="$2" value current
  if ! has_var "$name"; then
    if [ -n "$source" ]; then
      value="$(read_source "$source")"
    else
      value="$(random_hex 32)"
    fi
    add "$name" "$value"
  elif [ -n "$source" ]; then
    value="$(read_source "$source")"
    current="$(get_var "$name")"
    if [ "$value" != "$current" ]; then
      echo "litellm-secrets: warning: $name in $env_file differs from $source; left unchanged" >&2
    fi
  fi
}
add_password DATABASE_PASSWORD "$db_source"
add_password REDIS_PASSWORD "$redis_source"
if ! has_var UI_USERNAME; then
  add UI_USERNAME admin
fi
if ! has_var UI_PASSWORD; then
  value="$(random_alnum 32)"
  add UI_PASSWORD "$value"
fi

# Connection variables the module sets itself; LiteLLM would prefer these to the module's.
overriding=()
for name in DATABASE_URL DIRECT_URL REDIS_URL; do
  if has_var "$name"; then overriding+=("$name"); fi
done

if [ "${#added_names[@]}" -gt 0 ] || [ "${#overriding[@]}" -gt 0 ]; then
  tmp="$(mktemp "$env_dir/.litellm-env.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  if [ -f "$env_file" ]; then
    if [ "${#overriding[@]}" -gt 0 ]; then
      pattern="^($(
        IFS='|'
        printf '%s' "${overriding[*]}"
      ))="
      sed -E "s/$pattern/#disabled by litellm-secrets: &/" "$env_file" >"$tmp"
    else
      cat "$env_file" >"$tmp"
    fi
    # An older file without a final newline must not glue its last line to the first addition.
    if [ -s "$tmp" ] && [ "$(tail -c1 "$tmp" | od -An -tx1 | tr -d ' ')" != "0a" ]; then
      printf '\n' >>"$tmp"
    fi
  fi
  printf '%s' "$additions" >>"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$env_file"
  trap - EXIT
  if [ "${#added_names[@]}" -eq 6 ]; then
    echo "litellm-secrets: created $env_file with ${added_names[*]}"
  elif [ "${#added_names[@]}" -gt 0 ]; then
    echo "litellm-secrets: added ${added_names[*]} to $env_file"
  fi
  if [ "${#overriding[@]}" -gt 0 ]; then
    echo "litellm-secrets: disabled ${overriding[*]} in $env_file (kept as comments): the module sets" \
      "LiteLLM's database and Redis connection, and these would override it"
  fi
  if [ "$adopted" = 1 ]; then
    echo "litellm-secrets: adopted an existing install: $env_file had LITELLM_MASTER_KEY but no" \
      "LITELLM_SALT_KEY, so LiteLLM has encrypted the provider keys stored in the database with the" \
      "master key; LITELLM_SALT_KEY is now set to the same value and must never change. Rotating the" \
      "master key no longer touches stored provider keys."
  fi
else
  echo "litellm-secrets: $env_file is complete, nothing changed"
fi
# Secrets stay private even when the file was created by hand.
chmod 0600 "$env_file"

# $1 = file to write (nothing when empty), $2 = variable: the value alone on one line, 0600.
write_single() {
  local file="$1" name="$2" value
  [ -n "$file" ] || return 0
  value="$(get_var "$name")"
  [ -n "$value" ] || die "$name in $env_file is empty"
  if [ ! -f "$file" ] || [ "$(cat "$file")" != "$value" ]; then
    mkdir -p "$(dirname "$file")"
    tmp_single="$(mktemp "$(dirname "$file")/.litellm-pass.XXXXXX")"
    trap 'rm -f "$tmp_single"' EXIT
    printf '%s\n' "$value" >"$tmp_single"
    chmod 0600 "$tmp_single"
    mv -f "$tmp_single" "$file"
    trap - EXIT
    echo "litellm-secrets: wrote $file"
  fi
  chmod 0600 "$file"
}

# The Redis server reads its password from a file holding only that password; the unit that sets
# the PostgreSQL role's password gets DATABASE_PASSWORD alone, never the master and salt keys.
write_single "$redis_pass_file" REDIS_PASSWORD
write_single "$db_pass_file" DATABASE_PASSWORD

# The Redis exporter's own password: generated once, kept as it is afterwards.
exporter_pass_file="${LITELLM_REDIS_EXPORTER_PASSWORD_FILE:-}"
if [ -n "$exporter_pass_file" ] && [ ! -s "$exporter_pass_file" ]; then
  [ ! -e "$exporter_pass_file" ] || [ -f "$exporter_pass_file" ] ||
    die "$exporter_pass_file exists but is not a regular file"
  mkdir -p "$(dirname "$exporter_pass_file")"
  value="$(random_hex 32)"
  tmp_single="$(mktemp "$(dirname "$exporter_pass_file")/.litellm-pass.XXXXXX")"
  trap 'rm -f "$tmp_single"' EXIT
  printf '%s\n' "$value" >"$tmp_single"
  chmod 0600 "$tmp_single"
  mv -f "$tmp_single" "$exporter_pass_file"
  trap - EXIT
  echo "litellm-secrets: wrote $exporter_pass_file"
fi
