#!/usr/bin/env bash
# Usage: ./test.sh <module-name>
#
# TAPPaaS's test-module.sh runs this in the module's folder: the install
# guide's checks over SSH (tappaas-litellm verify) on the module's VM,
# <vmname>.<zone0>.internal, as /home/tappaas/config/<module-name>.json names
# them (hosts/<vmname>/ is the host generate wrote). TAPPAAS_ZONE0_OVERRIDE
# (test-module.sh --zone0) tests another zone. Exit 0 when nothing failed, 1
# when a check failed; 2 (fatal for TAPPaaS: an update rolls back) only when
# the module file cannot be read.
set -euo pipefail
# shellcheck source=SCRIPTDIR/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"

if [[ $# -ne 1 || -z "$1" || "$1" == -* ]]; then
  litellm_fail "usage: $(basename "$0") <module-name>" 2
fi
litellm_module_vm "$1"
zone=${TAPPAAS_ZONE0_OVERRIDE:-$LITELLM_ZONE0}
host="$LITELLM_VMNAME.$(tr '[:upper:]' '[:lower:]' <<<"$zone").internal"
litellm_step "test of $1" verify "$LITELLM_VMNAME" --host "$host"
