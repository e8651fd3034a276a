# The node of the upgrade test: the VM of vm-litellm (common/node.nix) with the
# pinned image, and one specialisation per upgrade it is taken through:
#   next           the same LiteLLM under another tag: dockerTools.buildImage
#                  on top of the pinned image (the only image with a known Nix
#                  hash), so the container really changes image;
#   broken         the same, with an entrypoint that does not exist: LiteLLM
#                  never becomes ready and the upgrade must roll back;
#   postgresql18   database.package = postgresql_18, a major upgrade.
{ lib, pkgs, ... }:
let
  pin = builtins.fromJSON (builtins.readFile ../../modules/litellm/image.json);

  pinned = pkgs.dockerTools.pullImage {
    inherit (pin)
      imageName
      imageDigest
      hash
      finalImageTag
      ;
    finalImageName = pin.imageName;
  };

  # buildImage does not carry the base image's entrypoint, command and working
  # folder over: they are set as in LiteLLM's docker/Dockerfile.database.
  derived =
    tag: entrypoint:
    pkgs.dockerTools.buildImage {
      name = pin.imageName;
      inherit tag;
      fromImage = pinned;
      config = {
        Entrypoint = entrypoint;
        Cmd = [
          "--port"
          "4000"
        ];
        WorkingDir = "/app";
      };
    };

  useImage = tag: file: {
    tappaas.litellm = {
      image = lib.mkForce "${pin.imageName}:${tag}";
      imageFile = lib.mkForce file;
    };
  };
in
{
  imports = [ ../common/node.nix ];

  virtualisation.diskSize = lib.mkForce 16384;

  specialisation = {
    next.configuration = useImage "upgrade-next" (
      derived "upgrade-next" [ "docker/prod_entrypoint.sh" ]
    );
    broken.configuration = useImage "upgrade-broken" (
      derived "upgrade-broken" [ "/no/such/entrypoint" ]
    );
    postgresql18.configuration.tappaas.litellm.database.package = pkgs.postgresql_18;
  };
}
