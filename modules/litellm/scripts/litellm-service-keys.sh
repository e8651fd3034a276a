#!/usr/bin/env bash
# litellm-service-keys: reconcile, ensure or revoke the service keys of
# consuming modules (run as root on the LiteLLM VM).
#   litellm-service-keys reconcile        make LiteLLM match tappaas.litellm.serviceKeys
#   litellm-service-keys ensure CONSUMER  a key for CONSUMER, made once, never replaced
#   litellm-service-keys revoke CONSUMER  delete CONSUMER's key and its file
# The module sets the paths (runtimeEnv); the logic is tappaas-litellm's.
exec tappaas-litellm service-keys \
  --state "$LITELLM_SERVICE_KEYS_STATE" \
  --secrets "$LITELLM_ENV_FILE" \
  --url "$LITELLM_URL" \
  --key-dir "$LITELLM_SERVICE_KEYS_DIR" \
  "$@"
