#!/usr/bin/env bash
# Usage: ./test.sh <module-name>
#
# TAPPaaS's test-module.sh runs this in the module's folder: the install
# guide's checks over SSH (tappaas-litellm verify). Exit 0 when nothing failed,
# 1 when a check failed, 2 on bad input. TAPPAAS_ZONE0_OVERRIDE (set by
# test-module.sh --zone0) tests <module-name>.<zone>.internal instead.
set -euo pipefail
# shellcheck source=SCRIPTDIR/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"

litellm_module_args "$@"
name=$1
shift
host=()
if [[ -n "${TAPPAAS_ZONE0_OVERRIDE:-}" ]]; then
  host=(--host "$name.$(tr '[:upper:]' '[:lower:]' <<<"$TAPPAAS_ZONE0_OVERRIDE").internal")
fi
litellm_step "test of $name" verify "$name" "${host[@]}" "$@"
