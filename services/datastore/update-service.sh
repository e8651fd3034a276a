#!/usr/bin/env bash
# Usage: update-service.sh <gateway-module-name> [--dry-run]
#
# TAPPaaS's update-module.sh calls this when a gateway is updated: as
# install (secrets copied only to a gateway that has none).
# The work is tappaas-litellm's: tappaas-datastore update <gateway-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "datastore update-service for $LITELLM_CONSUMER" \
  tappaas-datastore update "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
