# Wraps modules/litellm/scripts/<name>.sh as a command <name>, with its
# runtime inputs on PATH. The tests run the very same .sh files without Nix.
pkgs: name: runtimeInputs:
pkgs.writeShellApplication {
  inherit name runtimeInputs;
  text = builtins.readFile (../scripts + "/${name}.sh");
}
