# The datastore role: a VM running only LiteLLM's PostgreSQL and Redis, for
# gateways on other VMs (several gateways behind TAPPaaS's proxy share keys,
# budgets, spend and the cache through it). It reuses postgresql.nix,
# redis.nix, secrets.nix and backup.nix; this file adds the network side
# (listening on the zone address, password logins from the gateways only,
# the firewall) and the connection budget of all gateways together.
{ config, lib, ... }:
let
  cfg = config.tappaas.litellm;
  ds = cfg.datastore;
  db = cfg.database;

  # nixpkgs' nftables-based firewall takes extraInputRules and refuses
  # extraCommands; the iptables one (the default) the other way round.
  # (`or false`: evaluation tools that lack networking.nftables still work.)
  nftables = config.networking.nftables.enable or false;

  gateways = lib.attrValues ds.gateways;

  # Every gateway's pools against max_connections (pure, tested without nixpkgs).
  pools = lib.mapAttrs (_: g: { inherit (g) workers poolLimit; }) ds.gateways;
  connections = import ./lib/datastore-connections.nix {
    gateways = pools;
    inherit (db) maxConnections;
  };

  isIPv6 = address: lib.hasInfix ":" address;
  addresses = map (g: g.address) gateways;

  # pg_hba: a host entry needs a CIDR mask.
  cidr = address: if isIPv6 address then "${address}/128" else "${address}/32";

  # Both families' rules (pure, tested without nixpkgs). PostgreSQL and Redis
  # listen on listenAddress alone, so a gateway reaches them in its family;
  # the other family finds nothing listening and the firewall drops it.
  firewall = import ./lib/firewall-sources.nix {
    sources = addresses;
    ports = [
      db.port
      cfg.redis.port
    ];
  };
  family = address: if isIPv6 address then "IPv6" else "IPv4";

  loopback = [
    "127.0.0.1"
    "::1"
    "localhost"
  ];

  gatewayType = lib.types.submodule {
    options = {
      address = lib.mkOption {
        type = lib.types.str;
        example = "10.2.20.21";
        description = ''
          IP address the gateway connects from (its address in the zone).
          Only these addresses reach PostgreSQL and Redis through the
          firewall and PostgreSQL's `pg_hba.conf`.
        '';
      };
      workers = lib.mkOption {
        type = lib.types.ints.positive;
        example = 4;
        description = "The gateway's {option}`tappaas.litellm.workers`.";
      };
      poolLimit = lib.mkOption {
        type = lib.types.ints.positive;
        default = db.poolLimit;
        defaultText = lib.literalExpression "config.tappaas.litellm.database.poolLimit";
        description = "The gateway's {option}`tappaas.litellm.database.poolLimit` (connections per worker).";
      };
    };
  };
in
{
  options.tappaas.litellm.datastore = {
    enable = lib.mkEnableOption ''
      the datastore role: PostgreSQL and Redis of LiteLLM for gateways on
      other VMs, with backups and `litellm-restore`, but no LiteLLM. The
      gateways set `database.createLocally = false` and
      `redis.createLocally = false` with this VM as `host`
    '';

    listenAddress = lib.mkOption {
      type = lib.types.str;
      example = "10.2.20.20";
      description = ''
        Address of this VM in its zone. PostgreSQL and Redis listen on it
        (and on loopback, for backups and admins).
      '';
    };

    gateways = lib.mkOption {
      type = lib.types.attrsOf gatewayType;
      default = { };
      example = lib.literalExpression ''
        {
          litellm1 = { address = "10.2.20.21"; workers = 4; };
          litellm2 = { address = "10.2.20.22"; workers = 4; };
        }
      '';
      description = ''
        The gateways using this datastore, by VM name. Only their addresses
        may connect, and PostgreSQL's `max_connections` must hold all their
        workers' pools (checked when the configuration is evaluated).
      '';
    };
  };

  config = lib.mkIf ds.enable {
    assertions = [
      {
        assertion = !cfg.enable;
        message = ''
          tappaas.litellm: tappaas.litellm.enable (a gateway) and tappaas.litellm.datastore.enable
          exclude each other; a datastore runs only PostgreSQL and Redis. Set one of them to false.
        '';
      }
      {
        assertion = db.createLocally && cfg.redis.createLocally;
        message = ''
          tappaas.litellm: a datastore runs PostgreSQL and Redis itself; keep
          tappaas.litellm.database.createLocally and tappaas.litellm.redis.createLocally true.
        '';
      }
      {
        assertion = db.name == db.user;
        message = ''
          tappaas.litellm: the datastore's database is owned by the role of the same name; set
          tappaas.litellm.database.user equal to tappaas.litellm.database.name
          ("${db.user}" vs "${db.name}").
        '';
      }
      {
        assertion = ds.gateways != { };
        message = ''
          tappaas.litellm: tappaas.litellm.datastore.gateways is empty; list every gateway with its
          address and workers, for example
          tappaas.litellm.datastore.gateways.litellm1 = { address = "10.2.20.21"; workers = 4; };
        '';
      }
      {
        assertion = !(builtins.elem ds.listenAddress (loopback ++ [ "0.0.0.0" "::" "*" ]));
        message = ''
          tappaas.litellm: tappaas.litellm.datastore.listenAddress must be this VM's address in its
          zone (it is "${ds.listenAddress}"); gateways on other VMs cannot reach loopback, and a
          wildcard would also listen on every other network of the VM.
        '';
      }
      {
        assertion = connections.fits;
        message = ''
          tappaas.litellm: the gateways of this datastore may open ${toString connections.total} database connections together:
          ${connections.gateways}.
          With a reserve of ${toString connections.connectionReserve} for backups and the superuser, that exceeds
          tappaas.litellm.database.maxConnections = ${toString db.maxConnections}. Raise it to at least ${toString connections.needed},
          or lower the gateways' workers or tappaas.litellm.database.poolLimit (on the gateways
          and in tappaas.litellm.datastore.gateways).
        '';
      }
    ]
    ++ lib.mapAttrsToList (name: g: {
      assertion =
        !(builtins.elem g.address (loopback ++ [ "0.0.0.0" "::" ])) && !(lib.hasInfix "/" g.address);
      message = ''
        tappaas.litellm: tappaas.litellm.datastore.gateways.${name}.address must be the gateway's
        own IP address, without a mask (it is "${g.address}").
      '';
    }) ds.gateways
    ++ lib.mapAttrsToList (name: g: {
      assertion = family g.address == family ds.listenAddress;
      message = ''
        tappaas.litellm: tappaas.litellm.datastore.gateways.${name}.address is an ${family g.address}
        address ("${g.address}"), but PostgreSQL and Redis listen on ${ds.listenAddress} (${family ds.listenAddress})
        only, so that gateway could never connect. Give the gateway's ${family ds.listenAddress} address.
      '';
    }) ds.gateways;

    # Room for every gateway's pools, unless set explicitly.
    tappaas.litellm.database.maxConnections = lib.mkDefault (
      (import ./lib/datastore-connections.nix { gateways = pools; }).maxConnections
    );

    services.postgresql = {
      # nixpkgs sets "localhost" (or "*" with enableTCPIP) at normal priority.
      settings.listen_addresses = lib.mkForce "localhost,${ds.listenAddress}";
      # The gateways log in as the LiteLLM role with its password, nothing
      # else from the network; any other address finds no pg_hba line.
      authentication = lib.concatMapStrings (address: ''
        host ${db.name} ${db.user} ${cidr address} scram-sha-256
      '') addresses;
    };

    services.redis.servers.litellm.bind = "127.0.0.1 ${ds.listenAddress}";

    # The zone address comes from DHCP and may appear after PostgreSQL and
    # Redis start: PostgreSQL would then listen on localhost only (a warning)
    # and Redis would not start at all. Binding to an address the VM does not
    # have yet lets both start with their sockets in place.
    boot.kernel.sysctl = {
      "net.ipv4.ip_nonlocal_bind" = 1;
      "net.ipv6.ip_nonlocal_bind" = 1;
    };

    networking.firewall = {
      extraCommands = lib.mkIf (!nftables) firewall.iptables;
      extraInputRules = lib.mkIf nftables firewall.nftables;
    };
  };
}
