# The non-secret environment of the LiteLLM container.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/environment.nix { }'
#
# Secrets (LITELLM_MASTER_KEY, LITELLM_SALT_KEY, DATABASE_PASSWORD,
# REDIS_PASSWORD, UI_USERNAME, UI_PASSWORD) never appear here: they reach the
# container only through its environment files. LiteLLM builds DATABASE_URL
# itself from DATABASE_HOST, DATABASE_USERNAME, DATABASE_PASSWORD and
# DATABASE_NAME.
{
  databaseHost ? "127.0.0.1",
  databasePort ? 5432,
  databaseName ? "litellm",
  databaseUser ? "litellm",
  redisHost ? "127.0.0.1",
  redisPort ? 6379,
  # Extra variables; they win over the values above.
  extra ? { },
}:
let
  # An IPv6 literal needs brackets in front of the port.
  hostPort =
    host: port:
    if builtins.match ".*:.*" host != null then
      "[${host}]:${toString port}"
    else
      "${host}:${toString port}";
in
{
  LITELLM_LOCAL_MODEL_COST_MAP = "True";
  STORE_MODEL_IN_DB = "True";
  LITELLM_MODE = "PRODUCTION";
  # Warnings and errors only: INFO writes several lines per request, which
  # costs throughput (bench/). One record per request stays in the database
  # (LiteLLM_SpendLogs); raise it with tappaas.litellm.environment.
  LITELLM_LOG = "WARNING";
  DATABASE_HOST = hostPort databaseHost databasePort;
  DATABASE_USERNAME = databaseUser;
  DATABASE_NAME = databaseName;
  REDIS_HOST = redisHost;
  REDIS_PORT = toString redisPort;
}
// extra
