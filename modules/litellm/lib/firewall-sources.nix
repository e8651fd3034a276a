# Firewall rules that let TCP ports through from the given source addresses
# only (the exporters' Prometheus, the datastore's gateways), each rule in its
# address's family, for nixpkgs' iptables firewall
# (networking.firewall.extraCommands: run once, for both families, after
# nixos-fw is built and before its final refuse rule) and for its nftables one
# (networking.firewall.extraInputRules: nixpkgs' `inet` table, where `ip saddr`
# matches IPv4 only and `ip6 saddr` IPv6 only). nixpkgs' final refuse rule
# drops everything else reaching the ports, in both families.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/firewall-sources.nix {
#        sources = [ "10.2.10.5" ]; ports = [ 9187 9121 ]; }'
{
  # IP addresses without a mask; IPv6 ones contain ':'.
  sources,
  ports,
}:
let
  isIPv6 = address: builtins.match ".*:.*" address != null;
  ipv4 = builtins.filter (a: !isIPv6 a) sources;
  ipv6 = builtins.filter isIPv6 sources;
  concatMap = f: list: builtins.concatStringsSep "" (map f list);
  portList = builtins.concatStringsSep ", " (map toString ports);
  nftSet =
    family: addresses:
    if addresses == [ ] || ports == [ ] then
      ""
    else
      "${family} saddr { ${builtins.concatStringsSep ", " addresses} } tcp dport { ${portList} } accept\n";
in
{
  iptables = concatMap (
    address:
    concatMap (
      port:
      "${
        if isIPv6 address then "ip6tables" else "iptables"
      } -w -A nixos-fw -p tcp -s ${address} --dport ${toString port} -j nixos-fw-accept\n"
    ) ports
  ) sources;
  nftables = nftSet "ip" ipv4 + nftSet "ip6" ipv6;
}
