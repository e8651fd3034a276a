"""What the NixOS module runs as root on the LiteLLM VM.

The service-key reconciler behind `litellm-service-keys` (`tappaas-litellm service-keys`).
"""
