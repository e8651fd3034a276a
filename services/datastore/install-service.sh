#!/usr/bin/env bash
# Usage: install-service.sh <gateway-module-name> [--dry-run]
#
# TAPPaaS's install-module.sh calls this for every gateway that declares
# dependsOn "<this datastore>:datastore", after the gateway's VM exists and
# before its deploy: the gateway must be listed in this datastore's
# datastoreGateways, and gets the datastore's /etc/secrets if it has none.
# The work is tappaas-litellm's: tappaas-datastore install <gateway-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "datastore install-service for $LITELLM_CONSUMER" \
  tappaas-datastore install "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
