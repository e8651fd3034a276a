{
  description = "TAPPaaS LiteLLM gateway: a reusable NixOS module, one host per folder, a generator and tests";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    nixos-generators = {
      url = "github:nix-community/nixos-generators";
      inputs.nixpkgs.follows = "nixpkgs";
      inputs.nixlib.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      nixos-generators,
      ...
    }:
    let
      system = "x86_64-linux";

      # Every folder <root>/<name>/ with a default.nix is a NixOS configuration,
      # so a newly generated host needs no edit of this file.
      hostsIn =
        root:
        let
          entries = if builtins.pathExists root then builtins.readDir root else { };
          isHost =
            name:
            entries.${name} == "directory" && builtins.pathExists (root + "/${name}/default.nix");
        in
        builtins.listToAttrs (
          map (name: {
            inherit name;
            value = root + "/${name}";
          }) (builtins.filter isHost (builtins.attrNames entries))
        );

      # hosts/ holds upstream's samples; site/hosts/ this site's own hosts, which
      # `tappaas-litellm generate` and `deploy` write (site/ is never tracked
      # upstream, so `git pull` never conflicts with them). A site host replaces
      # the sample of the same name.
      hostDirs = hostsIn ./hosts // hostsIn ./site/hosts;
      hostNames = builtins.attrNames hostDirs;

      # The modules of a host: its configuration and its image share them.
      hostModules = name: [
        hostDirs.${name}
        {
          nixpkgs.hostPlatform = system;
          system.configurationRevision = self.rev or self.dirtyRev or null;
        }
      ];

      mkHost = name: nixpkgs.lib.nixosSystem { modules = hostModules name; };

      # A Proxmox backup (vzdump-qemu-<vmid>-<name>.vma.zst) of the same
      # system, for `qmrestore` (tappaas-litellm deploy NAME --create).
      mkProxmoxImage =
        name:
        nixos-generators.nixosGenerate {
          inherit system;
          format = "proxmox";
          modules = hostModules name ++ [ ./modules/proxmox-image.nix ];
        };

      pkgs = nixpkgs.legacyPackages.${system};
      tappaas-litellm = pkgs.callPackage ./generator/package.nix { };

      app = name: description: {
        type = "app";
        program = "${
          pkgs.writeShellApplication {
            name = "tappaas-litellm-${name}";
            runtimeInputs = [ tappaas-litellm ];
            text = ''exec tappaas-litellm ${name} "$@"'';
          }
        }/bin/tappaas-litellm-${name}";
        meta.description = description;
      };
    in
    {
      nixosModules = {
        litellm = ./modules/litellm;
        tappaas-vm = ./modules/tappaas-vm.nix;
        default = {
          imports = [
            self.nixosModules.litellm
            self.nixosModules.tappaas-vm
          ];
        };
      };

      nixosConfigurations = builtins.listToAttrs (
        map (name: {
          inherit name;
          value = mkHost name;
        }) hostNames
      );

      packages.${system} = {
        default = tappaas-litellm;
        inherit tappaas-litellm;
      }
      // builtins.listToAttrs (
        map (name: {
          name = "${name}-proxmox";
          value = mkProxmoxImage name;
        }) hostNames
      );

      apps.${system} = {
        deploy = app "deploy" "Generate hosts/<name> from <name>.json and deploy it";
        generate = app "generate" "Write hosts/<name>/default.nix from <name>.json";
        verify = app "verify" "Run the install guide's verification checks against a deployed VM";
        key = app "key" "Print the LiteLLM master key of a deployed VM";
        service-key = app "service-key" "Print a consuming module's LiteLLM key, or write it to the consumer VM";
        upgrade = app "upgrade" "Upgrade a VM to a new LiteLLM image or PostgreSQL major, or roll back";
      };

      checks.${system} =
        import ./nixos-tests {
          inherit pkgs self;
        }
        // {
          inherit tappaas-litellm;
        }
        // nixpkgs.lib.mapAttrs' (
          name: host: nixpkgs.lib.nameValuePair "host-${name}" host.config.system.build.toplevel
        ) self.nixosConfigurations;

      devShells.${system}.default = pkgs.mkShell {
        packages = [
          (pkgs.python3.withPackages (
            ps: [
              ps.click
              ps.pydantic
              ps.jinja2
              ps.pytest
              ps.hypothesis
            ]
          ))
          pkgs.ruff
          pkgs.nixfmt
          pkgs.shellcheck
          tappaas-litellm
          pkgs.postgresql_17
          pkgs.redis
          pkgs.jq
          pkgs.nix-prefetch-docker
          pkgs.skopeo
        ];
      };

      formatter.${system} = pkgs.nixfmt-tree;
    };
}
