# For nixeval only: copies the firewall's extra rules into an /etc entry, which
# nixeval reports (its `etc` field), so a test can read the rules a
# configuration gives nixpkgs' firewall.
{ config, ... }:
{
  environment.etc."nixeval-probe/extraCommands".text = config.networking.firewall.extraCommands;
}
