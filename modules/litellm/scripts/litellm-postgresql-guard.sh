#!/usr/bin/env bash
# litellm-postgresql-guard: refuse to start PostgreSQL on an empty data directory of a new major
# version while the data of another major version sits next to it.
#
# The data directory carries the major version (/var/lib/postgresql/<major>); after a change of the
# PostgreSQL package, PostgreSQL would otherwise initialise a fresh, empty cluster and LiteLLM would
# start with no keys, users or models.
#
# Environment:
#   PG_MAJOR     the major version of the configured PostgreSQL package (17)
#   PG_DATA_DIR  its data directory (/var/lib/postgresql/$PG_MAJOR)
#   The marker file <parent of PG_DATA_DIR>/.litellm-major-upgrade, written by
#   `tappaas-litellm upgrade NAME --postgresql` after a checked dump, allows one initialisation of
#   the empty data directory next to the old major's data, which stays untouched.
# Exit codes: 0 safe to start (data of this major present, or no data at all: a first start, or a
#             major upgrade in progress);
#             1 the data directory holds another major's data, or another major's data exists beside
#               an uninitialised one (a major upgrade needs pg_upgrade or a dump and restore first).
set -euo pipefail

major="${PG_MAJOR:-17}"
data_dir="${PG_DATA_DIR:-/var/lib/postgresql/$major}"

die() {
  echo "litellm-postgresql-guard: $*" >&2
  exit 1
}

case "$major" in
  '' | *[!0-9]*) die "PG_MAJOR must be a number, got '$major'" ;;
esac

if [ -f "$data_dir/PG_VERSION" ]; then
  found="$(head -n1 "$data_dir/PG_VERSION")"
  [ "$found" = "$major" ] || die "$data_dir holds PostgreSQL $found data but the configured package is PostgreSQL $major"
  echo "litellm-postgresql-guard: $data_dir holds PostgreSQL $major data"
  exit 0
fi

parent="$(dirname "$data_dir")"
others=()
if [ -d "$parent" ]; then
  for version_file in "$parent"/*/PG_VERSION; do
    [ -f "$version_file" ] || continue
    [ "$(dirname "$version_file")" = "$data_dir" ] && continue
    others+=("$(dirname "$version_file") (PostgreSQL $(head -n1 "$version_file"))")
  done
fi

if [ "${#others[@]}" -gt 0 ] && [ -f "$parent/.litellm-major-upgrade" ]; then
  echo "litellm-postgresql-guard: major upgrade in progress ($parent/.litellm-major-upgrade): $data_dir will be initialised; kept: ${others[*]}"
  exit 0
fi

if [ "${#others[@]}" -gt 0 ]; then
  {
    echo "litellm-postgresql-guard: refusing to start PostgreSQL $major on the empty data directory $data_dir:"
    printf '  existing data: %s\n' "${others[@]}"
    echo "  Starting would create an empty database and LiteLLM would lose its keys, users and models."
    echo "  To keep the old version: set tappaas.litellm.database.package back to the PostgreSQL"
    echo "  version of that data and deploy. To move the data to PostgreSQL $major: do that first, then"
    echo "  set the new package again and run, from the flake's folder on the CI/CD machine,"
    echo "  'tappaas-litellm upgrade <vm> --postgresql' (README, \"PostgreSQL to a new major version\"):"
    echo "  a checked dump, the switch, a restore into PostgreSQL $major; the old data directory stays"
    echo "  until you remove it."
  } >&2
  exit 1
fi

echo "litellm-postgresql-guard: no PostgreSQL data yet; $data_dir will be initialised"
