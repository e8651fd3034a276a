"""Backup and restore of a LiteLLM_SpendLogs-shaped table in a real PostgreSQL.

The table has the columns and indexes of LiteLLM's ``LiteLLM_SpendLogs`` (its Prisma schema);
the rows look like what the proxy writes by default (no prompts or responses stored: those
columns keep their ``{}`` default), with unique ids and hashes. The module's own scripts do the
work: ``litellm-backup-postgresql`` (``pg_dump -Fc`` plus ``pg_restore --list``) and
``litellm-restore --postgresql FILE --confirm``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from stacklib import (
    PostgresServer,
    Scripts,
    StackSecrets,
    make_backup_dirs,
    prepare_litellm_database,
    start_postgresql,
)

CREATE_TABLE = """
CREATE TABLE "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL PRIMARY KEY,
    "call_type" TEXT NOT NULL,
    "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "request_duration_ms" INTEGER,
    "completionStartTime" TIMESTAMP(3),
    "model" TEXT NOT NULL DEFAULT '',
    "model_id" TEXT DEFAULT '',
    "model_group" TEXT DEFAULT '',
    "custom_llm_provider" TEXT DEFAULT '',
    "api_base" TEXT DEFAULT '',
    "user" TEXT DEFAULT '',
    "metadata" JSONB DEFAULT '{}',
    "cache_hit" TEXT DEFAULT '',
    "cache_key" TEXT DEFAULT '',
    "request_tags" JSONB DEFAULT '[]',
    "team_id" TEXT,
    "organization_id" TEXT,
    "end_user" TEXT,
    "requester_ip_address" TEXT,
    "messages" JSONB DEFAULT '{}',
    "response" JSONB DEFAULT '{}',
    "session_id" TEXT,
    "status" TEXT,
    "mcp_namespaced_tool_name" TEXT,
    "agent_id" TEXT,
    "proxy_server_request" JSONB DEFAULT '{}'
);
CREATE INDEX ON "LiteLLM_SpendLogs" ("startTime");
CREATE INDEX ON "LiteLLM_SpendLogs" ("startTime", "request_id");
CREATE INDEX ON "LiteLLM_SpendLogs" ("end_user");
CREATE INDEX ON "LiteLLM_SpendLogs" ("session_id");
"""

INSERT_ROWS = """
INSERT INTO "LiteLLM_SpendLogs" (
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
    "completion_tokens", "startTime", "endTime", "request_duration_ms", "completionStartTime",
    "model", "model_id", "model_group", "custom_llm_provider", "api_base", "user", "metadata",
    "cache_hit", "cache_key", "request_tags", "team_id", "end_user", "requester_ip_address",
    "session_id", "status")
SELECT
    'chatcmpl-' || md5(i::text),
    'acompletion',
    md5('key' || (i % 200)::text) || md5('k2' || (i % 200)::text),
    (i % 1000) * 0.000013,
    120 + i % 900, 100 + i % 700, 20 + i % 200,
    t, t + interval '850 milliseconds', 850, t + interval '300 milliseconds',
    'gpt-4o', md5('model' || (i % 5)::text), 'gpt-4o', 'openai',
    'https://api.openai.com/v1', 'user-' || (i % 100)::text,
    jsonb_build_object(
        'user_api_key', md5('key' || (i % 200)::text),
        'user_api_key_alias', 'team-key-' || (i % 200)::text,
        'user_api_key_team_id', md5('team' || (i % 20)::text),
        'user_api_key_user_id', 'user-' || (i % 100)::text,
        'user_api_key_team_alias', 'team ' || (i % 20)::text,
        'spend_logs_metadata', NULL,
        'requester_ip_address', '10.0.' || (i % 250)::text || '.' || (i % 200)::text,
        'applied_guardrails', '[]'::jsonb,
        'additional_usage_values', jsonb_build_object(
            'prompt_tokens_details', jsonb_build_object('cached_tokens', 0),
            'completion_tokens_details', jsonb_build_object('reasoning_tokens', 0)),
        'model_map_information', jsonb_build_object(
            'model_map_key', 'gpt-4o',
            'model_map_value', jsonb_build_object(
                'input_cost_per_token', 0.0000025, 'output_cost_per_token', 0.00001,
                'max_input_tokens', 128000, 'max_output_tokens', 16384,
                'litellm_provider', 'openai', 'mode', 'chat',
                'supports_function_calling', true, 'supports_vision', true))),
    'False', '', '[]'::jsonb, md5('team' || (i % 20)::text), NULL,
    '10.0.' || (i % 250)::text || '.' || (i % 200)::text,
    md5('session' || (i / 10)::text), 'success'
FROM generate_series(1, {rows}) AS i,
     LATERAL (SELECT timestamp '2026-01-01' + i * interval '2 seconds' AS t) AS ts;
"""


@dataclass(frozen=True)
class BackupResult:
    rows: int
    table_mib: float
    fill_s: float
    dump_s: float
    dump_mib: float
    restore_s: float
    rows_after_restore: int


def run(scripts: Scripts, secrets: StackSecrets, workdir: Path, rows: int) -> BackupResult:
    server = start_postgresql(scripts.pg_bin_dir, secrets.database_password)
    try:
        prepare_litellm_database(server, scripts)
        return _measure(server, scripts, workdir, rows)
    finally:
        server.stop()


def _as_owner(server: PostgresServer, sql: str) -> str:
    return server.psql(sql, user=server.db_user, password=server.db_password, timeout=1800)


def _measure(server: PostgresServer, scripts: Scripts, workdir: Path, rows: int) -> BackupResult:
    started = time.monotonic()
    _as_owner(server, CREATE_TABLE)
    _as_owner(server, INSERT_ROWS.format(rows=int(rows)) + 'ANALYZE "LiteLLM_SpendLogs";')
    fill_s = time.monotonic() - started
    table_bytes = int(server.psql("""SELECT pg_total_relation_size('"LiteLLM_SpendLogs"');"""))

    dirs = make_backup_dirs(workdir / "var-backup")
    env = (
        server.env()
        | dirs.env()
        | {"BACKUP_DIR": str(dirs.postgresql), "LITELLM_DB_NAME": server.db_name}
    )
    started = time.monotonic()
    dump = scripts.run("litellm-backup-postgresql", env=env, timeout=1800)
    dump_s = time.monotonic() - started
    if dump.returncode != 0:
        raise RuntimeError(f"litellm-backup-postgresql failed: {dump.stderr.strip()}")
    dump_file = next(dirs.postgresql.glob("litellm-*.dump"))

    _as_owner(server, 'DELETE FROM "LiteLLM_SpendLogs" WHERE "request_id" < \'chatcmpl-8\';')
    restore_env = env | {"LITELLM_PG_RUNAS": "", "LITELLM_MANAGE_SERVICE": "0"}
    started = time.monotonic()
    restore = scripts.run(
        "litellm-restore",
        "--postgresql",
        str(dump_file),
        "--confirm",
        env=restore_env,
        timeout=1800,
    )
    restore_s = time.monotonic() - started
    if restore.returncode != 0:
        raise RuntimeError(f"litellm-restore failed: {restore.stderr.strip()}")
    after = int(_as_owner(server, 'SELECT count(*) FROM "LiteLLM_SpendLogs";'))
    return BackupResult(
        rows=rows,
        table_mib=round(table_bytes / 2**20, 1),
        fill_s=round(fill_s, 1),
        dump_s=round(dump_s, 1),
        dump_mib=round(dump_file.stat().st_size / 2**20, 1),
        restore_s=round(restore_s, 1),
        rows_after_restore=after,
    )
