# shellcheck shell=bash
# Shared by this module's TAPPaaS scripts (install.sh, update.sh, test.sh at the
# flake's root, services/models/*-service.sh): each is a thin wrapper over
# tappaas-litellm. Sourced, never run.

LITELLM_FLAKE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# One line on stderr, then exit with $2 (default 1).
litellm_fail() {
  echo "litellm: $1" >&2
  exit "${2:-1}"
}

# tappaas-litellm from: $TAPPAAS_LITELLM_TOOL, PATH, this flake's .venv
# (bash dev/setup tool), else `nix run` of this flake.
litellm_tool() {
  if [[ -n "${TAPPAAS_LITELLM_TOOL:-}" ]]; then
    "$TAPPAAS_LITELLM_TOOL" "$@"
  elif command -v tappaas-litellm >/dev/null 2>&1; then
    tappaas-litellm "$@"
  elif [[ -x "$LITELLM_FLAKE_DIR/.venv/bin/tappaas-litellm" ]]; then
    "$LITELLM_FLAKE_DIR/.venv/bin/tappaas-litellm" "$@"
  elif command -v nix >/dev/null 2>&1; then
    nix run "$LITELLM_FLAKE_DIR#tappaas-litellm" -- "$@"
  else
    litellm_fail "tappaas-litellm not found: install Nix, or run 'bash dev/setup tool' in $LITELLM_FLAKE_DIR" 127
  fi
}

# litellm_step WHAT ARGS...: run `tappaas-litellm ARGS...` in the flake's
# folder; on failure its own messages stand, then one line says what failed.
litellm_step() {
  local what=$1
  shift
  local status=0
  (cd "$LITELLM_FLAKE_DIR" && litellm_tool "$@") || status=$?
  if ((status != 0)); then
    litellm_fail "$what failed (exit $status)" "$status"
  fi
}

# The arguments of TAPPaaS's module scripts: NAME, then options passed on.
litellm_module_args() {
  if [[ $# -lt 1 || -z "$1" || "$1" == -* ]]; then
    litellm_fail "usage: $(basename "$0") <module-name> [--dry-run]" 2
  fi
}

# litellm_module_vm MODULE: LITELLM_VMNAME (lower case) and LITELLM_ZONE0 from
# the installed module file, <TAPPaaS config folder>/MODULE.json; exit 2 when
# it cannot be read (the module's own file: nothing can be tested without it).
# shellcheck disable=SC2034
litellm_module_vm() {
  local file="${TAPPAAS_CONFIG_DIR:-/home/tappaas/config}/$1.json" flat
  flat=$(jq -e 'if (.config | type) == "object" then reduce (.config | to_entries[]) as $s (.; . * $s.value) else . end' "$file" 2>/dev/null) \
    || litellm_fail "$file: missing or not a JSON object" 2
  LITELLM_VMNAME=$(jq -r --arg m "$1" '.vmname // $m | ascii_downcase' <<<"$flat")
  LITELLM_ZONE0=$(jq -r '.zone0 // empty' <<<"$flat")
  [[ -n "$LITELLM_ZONE0" ]] || litellm_fail "$file: no zone0" 2
}

# The arguments of TAPPaaS's service scripts: <consuming-module> [--dry-run];
# bad ones exit 1, as TAPPaaS's own service scripts do (2 would be fatal).
# Sets LITELLM_CONSUMER and LITELLM_DRY_RUN (an array) for the caller.
# shellcheck disable=SC2034
litellm_service_args() {
  LITELLM_CONSUMER=""
  LITELLM_DRY_RUN=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dry-run) LITELLM_DRY_RUN=(--dry-run) ;;
      -*) litellm_fail "unknown option: $1" ;;
      *)
        [[ -z "$LITELLM_CONSUMER" ]] || litellm_fail "unexpected argument: $1"
        LITELLM_CONSUMER=$1
        ;;
    esac
    shift
  done
  [[ -n "$LITELLM_CONSUMER" ]] || litellm_fail "usage: $(basename "$0") <consuming-module-name> [--dry-run]"
}
