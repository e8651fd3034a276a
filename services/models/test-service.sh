#!/usr/bin/env bash
# Usage: test-service.sh <consuming-module-name> [--dry-run]
#
# TAPPaaS's test-module.sh calls this when a consumer is tested: the key
# exists on the LiteLLM VM, reaches at least one model, and the consumer's
# /etc/secrets/litellm-svckey.env holds it.
# The work is tappaas-litellm's: tappaas-service test <consuming-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "litellm:models test-service for $LITELLM_CONSUMER" \
  tappaas-service test "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
