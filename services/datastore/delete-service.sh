#!/usr/bin/env bash
# Usage: delete-service.sh <gateway-module-name> [--dry-run]
#
# TAPPaaS's delete-module.sh calls this when a gateway is deleted:
# nothing to remove on the VMs; take it out of datastoreGateways.
# The work is tappaas-litellm's: tappaas-datastore delete <gateway-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "datastore delete-service for $LITELLM_CONSUMER" \
  tappaas-datastore delete "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
