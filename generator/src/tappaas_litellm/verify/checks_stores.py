"""The install guide's Tests 3 and 4: PostgreSQL and its LiteLLM tables, Redis.

See :mod:`tappaas_litellm.verify.checks` for how checks run.
"""

from __future__ import annotations

from tappaas_litellm.verify.context import NO_DATABASE, Context
from tappaas_litellm.verify.registry import CheckGroup
from tappaas_litellm.verify.result import CheckFailedError, CheckResult, failed, passed, skipped

GROUP = CheckGroup()
check = GROUP.check

#: Tables the LiteLLM Prisma migrations create (a small, stable core).
CORE_TABLES: tuple[str, ...] = (
    "LiteLLM_VerificationToken",
    "LiteLLM_UserTable",
    "LiteLLM_TeamTable",
    "LiteLLM_ProxyModelTable",
    "LiteLLM_SpendLogs",
)


# --- test 3: database -------------------------------------------------------------------


@check("postgresql", "PostgreSQL accessible", "Test 3")
def check_postgresql(ctx: Context) -> CheckResult:
    target = ctx.target
    version = ctx.psql("SELECT version();")
    if not version.ok:
        return failed(
            f"PostgreSQL does not answer: {version.why()}",
            "sudo systemctl status postgresql; sudo journalctl -u postgresql -n 50; "
            "sudo ls -la /run/postgresql/",
            version.stdout + version.stderr,
        )
    exists = ctx.psql(
        "SELECT count(*) FROM pg_database WHERE datname = "
        + "'"
        + target.pg_database.replace("'", "''")
        + "';"
    )
    evidence = version.stdout.strip()
    if not exists.ok or exists.stdout.strip() != "1":
        return failed(
            f"database {target.pg_database} does not exist: {exists.why()}",
            "the module creates it (services.postgresql.ensureDatabases); "
            "sudo journalctl -u postgresql-setup -n 50",
            evidence + "\n" + exists.stdout + exists.stderr,
        )
    short = " ".join(version.stdout.split()[:2])
    return passed(f"{short} answers; database {target.pg_database} exists", evidence)


@check("database-tables", "LiteLLM tables and migrations", "Test 3")
def check_database_tables(ctx: Context) -> CheckResult:
    if not ctx.target.database:
        return skipped(NO_DATABASE)
    database = ctx.target.pg_database
    tables = ctx.psql(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' ORDER BY 1;",
        database,
    )
    if not tables.ok:
        raise CheckFailedError(
            f"cannot list tables of {database}: {tables.why()}",
            "sudo -u postgres psql litellm -c '\\dt'",
            tables.stderr,
        )
    names = [line.strip() for line in tables.stdout.splitlines() if line.strip()]
    litellm_tables = [name for name in names if name.startswith("LiteLLM_")]
    missing = [name for name in CORE_TABLES if name not in names]
    evidence = f"{len(litellm_tables)} LiteLLM tables: " + ", ".join(litellm_tables)
    if missing:
        return failed(
            f"{database} lacks LiteLLM tables: {', '.join(missing)} (migrations did not run)",
            "sudo journalctl -u podman-litellm | grep -i -e migrat -e prisma",
            evidence,
        )
    migrations = ctx.psql(
        "SELECT migration_name FROM _prisma_migrations "
        "WHERE finished_at IS NULL AND rolled_back_at IS NULL;",
        database,
    )
    if migrations.ok and migrations.stdout.strip():
        return failed(
            "unfinished database migrations: " + ", ".join(migrations.stdout.split()),
            "sudo journalctl -u podman-litellm | grep -i migrat; see LiteLLM's "
            "'troubleshoot/prisma_migrations' guide before touching _prisma_migrations",
            evidence,
        )
    return passed(f"{len(litellm_tables)} LiteLLM tables, no unfinished migrations", evidence)


# --- test 4: redis ----------------------------------------------------------------------


def _redis_info(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and not name.startswith("#"):
            values[name] = value
    return values


@check("redis", "Redis responding", "Test 4")
def check_redis(ctx: Context) -> CheckResult:
    target = ctx.target
    where = f"{target.redis_host}:{target.redis_port}"
    ping = ctx.redis_cli("PING")
    output = (ping.stdout + "\n" + ping.stderr).strip()
    if ping.stdout.strip() != "PONG":
        if "NOAUTH" in output or "WRONGPASS" in output or "AUTH failed" in output:
            reason = (
                f"Redis at {where} refuses the password (REDIS_PASSWORD in "
                f"{target.secrets_file} does not match the server)"
            )
            hint = (
                "compare REDIS_PASSWORD with /etc/secrets/litellm-redis.pass; "
                "sudo systemctl restart redis-litellm podman-litellm"
            )
        elif ping.rc == 127:
            reason, hint = "redis-cli is not installed", ""
        else:
            reason = f"Redis at {where} does not answer: {ping.why()}"
            hint = "sudo systemctl status redis-litellm; sudo journalctl -u redis-litellm -n 50"
        return failed(reason, hint, output)
    info = ctx.redis_cli("INFO")
    values = _redis_info(info.stdout)
    keyspace = [f"{name}({value})" for name, value in values.items() if name.startswith("db")]
    aof = "on" if values.get("aof_enabled") == "1" else "off"
    used = values.get("used_memory_human", "?")
    limit = values.get("maxmemory_human", "?")
    limit = "no limit" if limit == "0B" else limit
    stats = f"hits {values.get('keyspace_hits', '?')}, misses {values.get('keyspace_misses', '?')}"
    evidence = "\n".join(
        f"{name}: {values[name]}"
        for name in (
            "redis_version",
            "aof_enabled",
            "rdb_last_bgsave_status",
            "aof_last_write_status",
            "used_memory_human",
            "maxmemory_human",
            "maxmemory_policy",
            "connected_clients",
            "keyspace_hits",
            "keyspace_misses",
        )
        if name in values
    ) + ("\n" + "\n".join(keyspace) if keyspace else "")
    for status_name in ("rdb_last_bgsave_status", "aof_last_write_status"):
        if values.get(status_name, "ok") != "ok":
            return failed(
                f"Redis persistence failing ({status_name}: {values[status_name]})",
                "sudo journalctl -u redis-litellm -n 50; check free disk space",
                evidence,
            )
    return passed(f"PONG from {where}; AOF {aof}; memory {used} (max {limit}); {stats}", evidence)
