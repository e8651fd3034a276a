# The datastore of the scale-out test: PostgreSQL and Redis for gateway1 and
# gateway2, nothing else.
{ config, nodes, self, ... }:
let
  gateway = name: {
    address = nodes.${name}.networking.primaryIPAddress;
    inherit (nodes.${name}.tappaas.litellm) workers;
  };
in
{
  imports = [ self.nixosModules.litellm ];

  virtualisation = {
    cores = 1;
    memorySize = 2048;
    diskSize = 4096;
  };

  tappaas.litellm = {
    resources = {
      cores = 1;
      memoryMiB = 2048;
    };
    datastore = {
      enable = true;
      listenAddress = config.networking.primaryIPAddress;
      gateways = {
        gateway1 = gateway "gateway1";
        gateway2 = gateway "gateway2";
      };
    };
  };
}
