# Faults of a single-VM gateway: PostgreSQL restarted and Redis killed while
# requests run, the container killed, the backups' disk full; and what
# another machine in the zone can reach.
{
  name = "faults";

  nodes = {
    machine = ./node.nix;
    client = ../common/client.nix;
  };

  testScript = builtins.readFile ../common/network.py + builtins.readFile ./faults.py;
}
