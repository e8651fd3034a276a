# Several gateways on one datastore: a key created through gateway1 works
# through gateway2, a budget spent through both is enforced once, an answer
# cached by gateway1 is served by gateway2 without reaching the provider,
# gateway2 keeps serving with gateway1 gone, and only the gateways reach
# PostgreSQL and Redis.
{
  name = "scaleout";

  nodes = {
    datastore = ./datastore.nix;
    gateway1 = ./gateway.nix;
    gateway2 = ./gateway.nix;
    client = ../common/client.nix;
  };

  testScript = builtins.readFile ../common/network.py + builtins.readFile ./scaleout.py;
}
