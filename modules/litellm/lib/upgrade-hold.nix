# The file `litellm-upgrade-helper stop` writes and `start` removes
# (modules/litellm/scripts/litellm-upgrade-helper.sh): while it exists,
# podman-litellm and litellm-service-keys do not start (ConditionPathExists=!).
"/run/litellm-upgrade-hold"
