#!/usr/bin/env bash
# Usage: install-service.sh <consuming-module-name> [--dry-run]
#
# TAPPaaS's install-module.sh calls this for every module that declares
# dependsOn "litellm:models": it makes the consumer's key on the LiteLLM VM if
# missing (litellm-svc-<consumer vmname>) and writes
# /etc/secrets/litellm-svckey.env on the consumer VM.
# The work is tappaas-litellm's: tappaas-service install <consuming-module>.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

litellm_service_args "$@"
litellm_step "litellm:models install-service for $LITELLM_CONSUMER" \
  tappaas-service install "$LITELLM_CONSUMER" "${LITELLM_DRY_RUN[@]}"
