#!/usr/bin/env bash
# litellm-secrets: create the LiteLLM secrets file once, and add variables missing from an older one.
#
# Environment (defaults are the module's values):
#   LITELLM_ENV_FILE               secrets file (/etc/secrets/litellm.env), KEY=value lines, mode 0600
#   LITELLM_REDIS_PASSWORD_FILE    REDIS_PASSWORD alone on one line (/etc/secrets/litellm-redis.pass), for
#                                  the Redis server's requirePassFile; empty = do not write it
#   LITELLM_DB_PASSWORD_SOURCE     optional: file holding an existing PostgreSQL server's password;
#                                  DATABASE_PASSWORD is then taken from it instead of generated
#   LITELLM_REDIS_PASSWORD_SOURCE  optional: the same for an existing Redis server's REDIS_PASSWORD
#
# Variables written (values generated from /dev/urandom):
#   LITELLM_MASTER_KEY  sk- followed by 64 hex digits (the admin API key)
#   LITELLM_SALT_KEY    sk- followed by 64 hex digits, never equal to the master key; it encrypts the
#                       provider keys stored in the database and must never change afterwards
#   DATABASE_PASSWORD   64 hex digits (or the content of LITELLM_DB_PASSWORD_SOURCE)
#   REDIS_PASSWORD      64 hex digits (or the content of LITELLM_REDIS_PASSWORD_SOURCE)
#   UI_USERNAME         admin
#   UI_PASSWORD         32 random letters and digits
#
# An existing variable is never changed; missing ones are appended; a complete file is left
# byte-for-byte as it is. Only variable names are printed, never values.
# Exit codes: 0 success, 1 error (unreadable source file, bad existing file, I/O error).
set -euo pipefail
umask 077

env_file="${LITELLM_ENV_FILE:-/etc/secrets/litellm.env}"
redis_pass_file="${LITELLM_REDIS_PASSWORD_FILE-/etc/secrets/litellm-redis.pass}"
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
if ! has_var LITELLM_SALT_KEY; then
  master="$(get_var LITELLM_MASTER_KEY)"
  if [ -z "$master" ]; then
    master="$(printf '%s' "$additions" | grep -m1 '^LITELLM_MASTER_KEY=' | cut -d= -f2- || true)"
  fi
  value="sk-$(random_hex 32)"
  while [ "$value" = "$master" ]; do value="sk-$(random_hex 32)"; done
  add LITELLM_SALT_KEY "$value"
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

if [ "${#added_names[@]}" -gt 0 ]; then
  tmp="$(mktemp "$env_dir/.litellm-env.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  if [ -f "$env_file" ]; then
    cat "$env_file" >"$tmp"
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
  else
    echo "litellm-secrets: added ${added_names[*]} to $env_file"
  fi
else
  echo "litellm-secrets: $env_file is complete, nothing changed"
fi
# Secrets stay private even when the file was created by hand.
chmod 0600 "$env_file"

# The Redis server reads its password from a file holding only that password.
if [ -n "$redis_pass_file" ]; then
  redis_password="$(get_var REDIS_PASSWORD)"
  [ -n "$redis_password" ] || die "REDIS_PASSWORD in $env_file is empty"
  if [ ! -f "$redis_pass_file" ] || [ "$(cat "$redis_pass_file")" != "$redis_password" ]; then
    mkdir -p "$(dirname "$redis_pass_file")"
    tmp="$(mktemp "$(dirname "$redis_pass_file")/.litellm-redis-pass.XXXXXX")"
    trap 'rm -f "$tmp"' EXIT
    printf '%s\n' "$redis_password" >"$tmp"
    chmod 0600 "$tmp"
    mv -f "$tmp" "$redis_pass_file"
    trap - EXIT
    echo "litellm-secrets: wrote $redis_pass_file"
  fi
  chmod 0600 "$redis_pass_file"
fi
