# Every option the project's modules declare, as JSON, for docs/options.md.
# Evaluated by tests/docs/optionsdoc.py with nixpkgs' real lib (nixeval's pinned copy)
# and nixeval's stand-in pkgs; only the declarations are read, no configuration is built.
{
  libDir,
  root,
  nixeval,
}:
let
  lib = import libDir;
  pkgs = import (nixeval + "/pkgs-stub.nix") { inherit lib; };
  eval = lib.evalModules {
    modules = [
      (root + "/modules/litellm")
      (root + "/modules/tappaas-vm.nix")
      # NixOS' own options are not declared here; their definitions are never read.
      { _module.check = false; }
    ];
    specialArgs = {
      inherit pkgs;
      modulesPath = nixeval + "/stubs/modulesPath";
    };
  };
  ours = o: o.visible && !o.internal && lib.hasPrefix "tappaas." o.name;
in
map (o: {
  inherit (o) name type readOnly;
  description = o.description or "";
  default = o.default or null;
  example = o.example or null;
}) (builtins.filter ours (lib.optionAttrSetToDocList eval.options))
