#!/usr/bin/env bash
# Usage: ./update.sh <module-name> [--dry-run]
#
# TAPPaaS's update-module.sh runs this in the module's folder after its
# snapshot and pre-update tests: the same deploy as install (generate, switch,
# wait, verify), so an updated flake (module, pinned image, nixpkgs) or an edited
# /home/tappaas/config/<module-name>.json reaches the VM. A failure makes
# update-module.sh roll back to its snapshot.
set -euo pipefail
# shellcheck source=SCRIPTDIR/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"

litellm_module_args "$@"
litellm_step "update of $1" deploy "$@"
