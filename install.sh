#!/usr/bin/env bash
# Usage: ./install.sh <module-name> [--dry-run]
#
# TAPPaaS's install-module.sh runs this in the module's folder (this flake),
# after the providers' install-service.sh, once the VM exists: it generates
# hosts/<vmname>/default.nix from /home/tappaas/config/<module-name>.json,
# switches the VM to it, waits for LiteLLM and verifies it
# (tappaas-litellm deploy). Further options go to deploy.
set -euo pipefail
# shellcheck source=SCRIPTDIR/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"

litellm_module_args "$@"
litellm_step "install of $1" deploy "$@"
