# A machine in the same zone that is neither gateway nor datastore: what it
# may reach is what anyone on the network may reach.
{ pkgs, ... }:
{
  environment.systemPackages = [
    pkgs.curl
    pkgs.jq
    pkgs.netcat
    pkgs.openssh
    pkgs.postgresql
    pkgs.redis
  ];
}
