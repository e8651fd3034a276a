# The connection budget of a datastore: every gateway worker keeps up to
# poolLimit PostgreSQL connections open, so max_connections must hold all of
# them plus a reserve for backups, restores and the superuser.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/datastore-connections.nix {
#        gateways = { gw1 = { workers = 4; poolLimit = 10; }; };
#        maxConnections = 100; }'
{
  # name -> { workers; poolLimit; }
  gateways,
  # PostgreSQL max_connections of the datastore; null: only derive it.
  maxConnections ? null,
  # Connections kept free for the superuser, backups, restores and psql.
  connectionReserve ? 10,
}:
let
  names = builtins.attrNames gateways;
  pool = name: gateways.${name}.workers * gateways.${name}.poolLimit;
  total = builtins.foldl' (sum: name: sum + pool name) 0 names;
  needed = total + connectionReserve;
  derived = if total + 2 * connectionReserve > 100 then total + 2 * connectionReserve else 100;
  describe =
    name:
    "${name} (${toString gateways.${name}.workers} workers x pool limit ${toString gateways.${name}.poolLimit})";
in
{
  inherit total needed connectionReserve;
  # The default of max_connections on a datastore: room for every pool and
  # twice the reserve, at least PostgreSQL's own default of 100.
  maxConnections = derived;
  fits = maxConnections == null || needed <= maxConnections;
  gateways = builtins.concatStringsSep ", " (map describe names);
}
