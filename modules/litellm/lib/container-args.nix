# The command line of the LiteLLM container: its arguments (`cmd`) and the
# podman options (`extraOptions`) of virtualisation.oci-containers.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/container-args.nix { workers = 2; }'
{
  # Address and port LiteLLM listens on (the VM's network: --network=host).
  listenAddress ? "127.0.0.1",
  port ? 4000,
  # uvicorn worker processes.
  workers ? 1,
  # Restart a worker after this many requests; null never restarts. uvicorn
  # supervises and replaces workers only when there are two or more: with one,
  # reaching the limit ends LiteLLM and the container. So the flag is passed
  # only with two workers or more.
  maxRequestsBeforeRestart ? null,
  # Seconds uvicorn's supervisor waits for a worker to answer its health
  # check before it kills and replaces it. A LiteLLM worker imports for
  # several seconds, longer on a busy VM; uvicorn's 5 s default then kills
  # every new worker before it can answer, over and over.
  workerHealthcheckTimeout ? 60,
  # Where the rendered configuration is mounted inside the container.
  configPath ? "/app/config.yaml",
}:
{
  cmd = [
    "--config"
    configPath
    "--host"
    listenAddress
    "--port"
    (toString port)
    "--num_workers"
    (toString workers)
  ]
  # Worker supervision exists only with two workers or more.
  ++ (
    if workers >= 2 then
      [
        "--timeout_worker_healthcheck"
        (toString workerHealthcheckTimeout)
      ]
    else
      [ ]
  )
  ++ (
    if maxRequestsBeforeRestart != null && workers >= 2 then
      [
        "--max_requests_before_restart"
        (toString maxRequestsBeforeRestart)
      ]
    else
      [ ]
  );

  extraOptions = [
    # PostgreSQL and Redis listen on the VM's loopback only.
    "--network=host"
    # Nothing in the container may gain privileges (setuid binaries, file
    # capabilities), and it keeps no capability at all: LiteLLM listens on an
    # unprivileged port and runs as the image's own user (root inside the
    # container, which owns the files it writes: Prisma's schema and
    # migrations below site-packages). The uid stays the image's: the Prisma
    # CLI and engines sit in that user's home, and another uid would make
    # LiteLLM download them at start, which fails offline.
    "--security-opt=no-new-privileges"
    "--cap-drop=all"
  ];
}
