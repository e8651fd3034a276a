# The datastore's firewall rules: PostgreSQL's and Redis's ports accepted from
# the gateways' addresses, each rule in its address's family (IPv4 and IPv6
# each have their own rules in iptables and in nftables); nixpkgs' final
# refuse rule drops everything else reaching them, in both families.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/datastore-firewall.nix { addresses = [ "10.2.20.21" "fd00::21" ]; ports = [ 5432 6379 ]; }'
{
  # The gateways' addresses, IPv4 or IPv6, without a mask.
  addresses,
  # The ports to accept from them.
  ports,
}:
let
  isIPv6 = address: builtins.match ".*:.*" address != null;
  ipv4 = builtins.filter (a: !isIPv6 a) addresses;
  ipv6 = builtins.filter isIPv6 addresses;
  concatMap = f: list: builtins.concatStringsSep "" (map f list);
  portList = builtins.concatStringsSep ", " (map toString ports);
  set = list: "{ ${builtins.concatStringsSep ", " list} }";
in
{
  inherit ipv4 ipv6;

  # For networking.firewall.extraCommands (the iptables firewall, NixOS's
  # default): nixpkgs runs them after building its nixos-fw chains and before
  # appending the final refuse rule, once, for both families.
  iptables = concatMap (
    address:
    concatMap (port: ''
      ${if isIPv6 address then "ip6tables" else "iptables"} -w -A nixos-fw -p tcp -s ${address} --dport ${toString port} -j nixos-fw-accept
    '') ports
  ) addresses;

  # For networking.firewall.extraInputRules (the nftables firewall): rules of
  # nixpkgs' `inet` table, where `ip saddr` matches IPv4 only and `ip6 saddr`
  # IPv6 only.
  nftables =
    (if ipv4 != [ ] then "ip saddr ${set ipv4} tcp dport ${set [ portList ]} accept\n" else "")
    + (if ipv6 != [ ] then "ip6 saddr ${set ipv6} tcp dport ${set [ portList ]} accept\n" else "");
}
