# The tappaas-litellm tool (generate, deploy, key, verify, upgrade) as a Nix package.
# Its unit tests run in the build; they need nix-instantiate (for the Nix
# string-escaping round trip and --parse of generated hosts) and git.
{
  lib,
  python3Packages,
  linkFarm,
  nix,
  git,
  openssh,
  nixos-rebuild-ng,
  # false: only the Python tool, for the LiteLLM VM's service-keys command,
  # which needs no nixos-rebuild, git or ssh.
  withDeployTools ? true,
  # The VM's copy skips the tests; the flake's checks run them.
  runTests ? true,
  nix-prefetch-docker,
  skopeo,
}:
let
  # deploy runs `nixos-rebuild ... --sudo`. The nixos-rebuild-ng package
  # installs itself as `nixos-rebuild-ng`, and the legacy nixos-rebuild of
  # older NixOS has no --sudo, so the tool brings nixos-rebuild-ng under the
  # name it calls.
  nixos-rebuild = linkFarm "nixos-rebuild-ng-as-nixos-rebuild" [
    {
      name = "bin/nixos-rebuild";
      path = lib.getExe nixos-rebuild-ng;
    }
  ];
in
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

  dependencies = [
    python3Packages.click
    python3Packages.pydantic
    python3Packages.jinja2
  ];

  # The tool brings every program it runs, none comes from the user's shell:
  # deploy runs nixos-rebuild, git and ssh; create runs `nix build`, scp and
  # ssh-keygen; generate and deploy evaluate the sizing with nix-instantiate;
  # key and verify run ssh; upgrade resolves an image tag with
  # nix-prefetch-docker (which asks skopeo). tests/test_tool_package.py checks
  # this list against the commands in the source.
  makeWrapperArgs = lib.optionals withDeployTools [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath [
      nix
      nixos-rebuild
      git
      openssh
      nix-prefetch-docker
      skopeo
    ])
  ];

  doCheck = runTests;

  nativeCheckInputs = [
    python3Packages.pytestCheckHook
    python3Packages.hypothesis
    python3Packages.pytest-timeout
    nix
    git
  ];

  # A writable HOME and a private Nix store for nix-instantiate inside the
  # build sandbox; dev/sandbox-test sources the same file.
  preCheck = ''
    source ${./check-env.sh}
  '';

  meta = {
    description = "Generate, deploy and verify the TAPPaaS LiteLLM NixOS VM";
    mainProgram = "tappaas-litellm";
  };
}
