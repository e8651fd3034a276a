#!/usr/bin/env bash
# litellm-backup-prune DIR DAYS: delete this project's backup files older than DAYS days directly in DIR.
#
# Only files named like the backups (litellm-<stamp>.dump, redis-<stamp>.rdb,
# litellm-env-<stamp>.tar.gz, <stamp> = YYYYmmddTHHMMSSZ) and left-over temporary files of an
# interrupted backup are considered; sub-directories, symbolic links and every other file stay.
# The newest backup in DIR is always kept, even when it is older than DAYS, so a backup job that
# stopped working never leaves the machine without any backup.
#
# Environment:
#   BACKUP_ROOT  (/var/backup) DIR must lie inside it; anything else is refused.
# Exit codes: 0 done, 2 bad arguments, 1 DIR missing or outside BACKUP_ROOT, or a deletion failed.
set -euo pipefail

usage() {
  echo "usage: litellm-backup-prune DIR DAYS   (DAYS: whole number >= 1)" >&2
  exit 2
}
die() {
  echo "litellm-backup-prune: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || usage
dir_arg="$1"
days="$2"
case "$days" in
  '' | *[!0-9]*) usage ;;
esac
[ "$((10#$days))" -ge 1 ] || usage
days="$((10#$days))"

root_arg="${BACKUP_ROOT:-/var/backup}"
root="$(realpath -e -- "$root_arg" 2>/dev/null)" || die "backup root $root_arg does not exist"
dir="$(realpath -e -- "$dir_arg" 2>/dev/null)" || die "backup directory $dir_arg does not exist"
[ -d "$dir" ] || die "$dir_arg is not a directory"
case "$dir/" in
  "$root"/?*/) ;;
  *) die "refusing to prune $dir_arg: it is not inside the backup root $root" ;;
esac

stamp='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z'
patterns=(
  "litellm-$stamp.dump" "redis-$stamp.rdb" "litellm-env-$stamp.tar.gz"
)
temp_patterns=(".litellm-*.partial" ".redis-*.partial" ".litellm-env-*.partial")

# The newest backup (names sort by time) is kept whatever its age.
newest="$(
  for pattern in "${patterns[@]}"; do
    find "$dir" -mindepth 1 -maxdepth 1 -type f -name "$pattern" -printf '%f\n'
  done | sort | tail -n1
)"

name_args=()
for pattern in "${patterns[@]}" "${temp_patterns[@]}"; do
  [ "${#name_args[@]}" -eq 0 ] || name_args+=(-o)
  name_args+=(-name "$pattern")
done

removed=0
while IFS= read -r -d '' file; do
  [ "$(basename "$file")" = "$newest" ] && continue
  rm -f -- "$file" || die "cannot delete $file"
  removed=$((removed + 1))
done < <(find "$dir" -mindepth 1 -maxdepth 1 -type f \( "${name_args[@]}" \) -mmin "+$((days * 1440))" -print0)

echo "litellm-backup-prune: removed $removed backup file(s) older than $days days from $dir"
