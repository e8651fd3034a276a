#!/usr/bin/env bash
# litellm-service-keys: reconcile, ensure or revoke the service keys of
# consuming modules (run as root on the LiteLLM VM).
#   litellm-service-keys reconcile        make LiteLLM match tappaas.litellm.serviceKeys
#   litellm-service-keys ensure CONSUMER  a key for CONSUMER, made once (anew if its file is gone)
#   litellm-service-keys revoke CONSUMER  delete CONSUMER's key and its file
#   litellm-service-keys test CONSUMER    its key works; stored models have an api_key
# The module sets the paths (runtimeEnv); the logic is tappaas-litellm's.
exec tappaas-litellm service-keys \
  --state "$LITELLM_SERVICE_KEYS_STATE" \
  --secrets "$LITELLM_ENV_FILE" \
  --url "$LITELLM_URL" \
  --key-dir "$LITELLM_SERVICE_KEYS_DIR" \
  --database "$LITELLM_DATABASE" \
  "$@"
