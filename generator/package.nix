# The tappaas-litellm tool (generate, deploy, key, verify) as a Nix package.
# Its unit tests run in the build; they need nix-instantiate (for the Nix
# string-escaping round trip and --parse of generated hosts) and git.
{
  lib,
  python3Packages,
  nix,
  git,
  openssh,
  nixos-rebuild-ng,
}:
python3Packages.buildPythonApplication {
  pname = "tappaas-litellm";
  version = "0.1.0";
  pyproject = true;

  src = lib.fileset.toSource {
    root = ./.;
    fileset = lib.fileset.unions [
      ./pyproject.toml
      ./src
      ./tests
    ];
  };

  build-system = [ python3Packages.setuptools ];

  dependencies = with python3Packages; [
    click
    pydantic
    jinja2
  ];

  # deploy runs nixos-rebuild, git and ssh; key and verify run ssh.
  makeWrapperArgs = [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath [
      nixos-rebuild-ng
      git
      openssh
    ])
  ];

  nativeCheckInputs = [
    python3Packages.pytestCheckHook
    python3Packages.hypothesis
    nix
    git
  ];

  preCheck = ''
    export HOME=$TMPDIR
    export NIX_STATE_DIR=$TMPDIR/nix/var/nix
    export NIX_LOG_DIR=$TMPDIR/nix/var/log/nix
    export NIX_CONF_DIR=$TMPDIR/nix/etc
    mkdir -p $NIX_STATE_DIR $NIX_LOG_DIR $NIX_CONF_DIR
  '';

  pytestFlagsArray = [ "tests" ];

  meta = {
    description = "Generate, deploy and verify the TAPPaaS LiteLLM NixOS VM";
    mainProgram = "tappaas-litellm";
  };
}
