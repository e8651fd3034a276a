# Reachability by address family, shared by faults.py and scaleout.py (their .nix
# files put this file in front of the script). The test driver gives every node
# 192.168.1.N and 2001:db8:1::N on eth1 (nixpkgs nixos/lib/testing/network.nix)
# and writes both into /etc/hosts, so a host name alone leaves the family to
# glibc (IPv6 first): every check here names an address, so its family is explicit.

# How a TCP connect ended: it connected, something answered "refused" (a TCP reset:
# nothing listens there), or nothing answered within the timeout (the firewall
# dropped the SYN; NixOS drops refused packets unless networking.firewall.rejectPackets).
CONNECTED = "connected"
REFUSED = "refused"
DROPPED = "dropped"


def address(node: Machine, family: int) -> str:
    """The node's address of `family` (4 or 6) on the test network (eth1)."""
    out = node.succeed(
        f"ip -{family} -o addr show dev eth1 scope global | awk '{{print $4}}' | cut -d/ -f1"
    )
    addresses = out.split()
    assert len(addresses) == 1, f"{node.name}: IPv{family} addresses on eth1: {addresses}"
    return addresses[0]


def connect(node: Machine, to: str, port: int, seconds: int = 5) -> str:
    """Try one TCP connect from `node` to the literal address `to` (bash's /dev/tcp)."""
    status, output = node.execute(f"timeout {seconds} bash -c '</dev/tcp/{to}/{port}' 2>&1")
    if status == 0:
        return CONNECTED
    if status == 124:
        return DROPPED
    assert "refused" in output.lower(), f"{node.name} -> {to}:{port}: {status} {output}"
    return REFUSED
