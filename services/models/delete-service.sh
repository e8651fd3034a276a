#!/usr/bin/env bash
# Usage: delete-service.sh <consuming-module-name> [--dry-run]
#
# TAPPaaS's delete-module.sh calls this when a consumer is deleted: it
# revokes the consumer's key and removes /etc/secrets/litellm-svckey.env there.
# A consumer declared in tappaas.litellm.serviceKeys gets a new key at the next
# deploy of the LiteLLM VM: remove it there as well.
# The work is tappaas-litellm's: tappaas-service delete <consuming-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "litellm:models delete-service for $LITELLM_CONSUMER" \
  tappaas-service delete "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
