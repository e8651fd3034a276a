# Derives LiteLLM worker count, PostgreSQL memory settings and the Redis
# memory limit from the size of the VM.
#
# Pure: uses only builtins, so it evaluates without nixpkgs:
#   nix-instantiate --eval --strict --json -E \
#     'import ./modules/litellm/lib/sizing.nix { cores = 4; memoryMiB = 4096; }'
#
# Memory budget (memoryMiB = M):
#   PostgreSQL shared_buffers      M / 4
#   Redis maxmemory                M / 8   (512mb at 4 GiB)
#   operating system               512 MiB
#   LiteLLM workers                the rest, about 512 MiB per worker
#
# Measured by bench/ (LiteLLM 1.89.3 from PyPI, without a database): a worker
# is about 290 MiB resident after load, uvicorn's supervisor (two workers or
# more) about 240 MiB. The rest of the 512 MiB is for the Prisma query engine
# each worker starts on the VM (not measurable offline) and for growth.
{
  # Virtual CPUs of the VM.
  cores,
  # Memory of the VM in MiB.
  memoryMiB,
  # LiteLLM worker processes; null derives them from cores and memory.
  workers ? null,
  # `general_settings.database_connection_pool_limit`: connections per worker.
  poolLimit ? 10,
  # Connections kept free for the superuser, backups, restores and psql.
  connectionReserve ? 10,
}:
let
  max = a: b: if a > b then a else b;
  min = a: b: if a < b then a else b;
  mib = n: "${toString n}MB";

  osReserveMiB = 512;
  workerMiB = 512;

  sharedBuffersMiB = max 128 (memoryMiB / 4);
  redisMaxMemoryMiB = max 64 (memoryMiB / 8);
  litellmMiB = memoryMiB - sharedBuffersMiB - redisMaxMemoryMiB - osReserveMiB;

  derivedWorkers = max 1 (min cores (litellmMiB / workerMiB));
  effectiveWorkers = if workers == null then derivedWorkers else workers;

  poolConnections = effectiveWorkers * poolLimit;
  maxConnections = max 100 (poolConnections + 2 * connectionReserve);

  effectiveCacheSizeMiB = max 256 (memoryMiB / 2);
  workMemMiB = max 4 ((memoryMiB - sharedBuffersMiB) / (maxConnections * 3));
  maintenanceWorkMemMiB = max 64 (min 1024 (memoryMiB / 16));
in
{
  workers = effectiveWorkers;
  inherit connectionReserve poolConnections;

  postgresql = {
    inherit maxConnections;
    sharedBuffers = mib sharedBuffersMiB;
    effectiveCacheSize = mib effectiveCacheSizeMiB;
    workMem = mib workMemMiB;
    maintenanceWorkMem = mib maintenanceWorkMemMiB;
  };

  redis = {
    maxMemory = "${toString redisMaxMemoryMiB}mb";
  };

  budgetMiB = {
    total = memoryMiB;
    postgresqlSharedBuffers = sharedBuffersMiB;
    redis = redisMaxMemoryMiB;
    operatingSystem = osReserveMiB;
    litellm = litellmMiB;
  };
}
