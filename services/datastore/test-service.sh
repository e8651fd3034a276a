#!/usr/bin/env bash
# Usage: test-service.sh <gateway-module-name> [--dry-run]
#
# TAPPaaS's test-module.sh calls this when a gateway is tested: the
# gateway holds the datastore's /etc/secrets/litellm.env.
# The work is tappaas-litellm's: tappaas-datastore test <gateway-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "datastore test-service for $LITELLM_CONSUMER" \
  tappaas-datastore test "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
