# Sourced before the tappaas-litellm tests run: by generator/package.nix (preCheck, in
# the Nix build sandbox) and by dev/sandbox-test (which simulates that sandbox).
# A writable HOME, and a private Nix store and state for nix-instantiate.
HOME=$(mktemp -d)
TEST_ROOT=$(mktemp -d)
export HOME TEST_ROOT
export NIX_CONF_DIR=$TEST_ROOT/etc
export NIX_LOCALSTATE_DIR=$TEST_ROOT/var
export NIX_LOG_DIR=$TEST_ROOT/var/log/nix
export NIX_STATE_DIR=$TEST_ROOT/var/nix
export NIX_STORE_DIR=$TEST_ROOT/store
nix-store --init
