#!/usr/bin/env bash
# Usage: update-service.sh <consuming-module-name> [--dry-run]
#
# TAPPaaS's update-module.sh calls this when a consumer is updated: as
# install, it makes the key if it went missing (never replaces one) and writes
# /etc/secrets/litellm-svckey.env on the consumer VM again.
# The work is tappaas-litellm's: tappaas-service update <consuming-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "litellm:models update-service for $LITELLM_CONSUMER" \
  tappaas-service update "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
