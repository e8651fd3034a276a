# A gateway of the scale-out test: the test node (common/node.nix) with the database
# and Redis of the node `datastore`, reachable from the other nodes on port
# 4000, and a priced model for the budget test. Its secrets come from the
# datastore (the test script copies /etc/secrets, as the README says).
{ nodes, pkgs, ... }:
let
  datastore = nodes.datastore.networking.primaryIPAddress;
in
{
  imports = [
    ../common/node.nix
    ../common/priced-model.nix
  ];

  # psql, to try logins at the datastore from a gateway's address.
  environment.systemPackages = [ pkgs.postgresql ];

  tappaas.litellm = {
    listenAddress = "0.0.0.0";
    openFirewall = true;
    database = {
      createLocally = false;
      host = datastore;
      passwordFile = "/etc/secrets/litellm-db.pass";
    };
    redis = {
      createLocally = false;
      host = datastore;
      passwordFile = "/etc/secrets/litellm-redis.pass";
    };
    backup.enable = false;
  };
}
