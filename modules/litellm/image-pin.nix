# A host's own image pin: the image.json `tappaas-litellm upgrade` writes next
# to a site's host (site/hosts/<name>/image.json), with the four fields of the
# module's ./image.json. The generated host imports this for it when it exists:
#   map (import ../../../modules/litellm/image-pin.nix) [ ./image.json ]
pinFile:
let
  pin = builtins.fromJSON (builtins.readFile pinFile);
in
{
  tappaas.litellm.image = "${pin.imageName}:${pin.finalImageTag}@${pin.imageDigest}";
}
