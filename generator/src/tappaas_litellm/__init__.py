"""Generate, deploy and verify the TAPPaaS LiteLLM NixOS VM."""

__version__ = "0.1.0"
