"""The checks: the install guide's verification tests and validation checklist.

Each check is a function ``check_x(ctx) -> CheckResult`` that never raises: any
exception or timeout becomes a *fail* with a one-line reason and a hint of what to
look at next. :func:`run_checks` runs them in order through a transport.

    from tappaas_litellm.verify import MachineTransport, Target, run_checks
    results = run_checks(MachineTransport(machine), Target())
"""

from __future__ import annotations

import functools
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.context import NO_DATABASE, NO_SYSTEMD, Context
from tappaas_litellm.verify.result import (
    CheckFailedError,
    CheckResult,
    CheckSkippedError,
    Status,
    failed,
    passed,
    skipped,
)
from tappaas_litellm.verify.target import BACKUP_KINDS, Target
from tappaas_litellm.verify.transport import SSH_ERROR_RC, Transport

CheckFunction = Callable[[Context], CheckResult]


@dataclass(frozen=True)
class Check:
    """A registered check: its name (for ``--only``), title and install-guide reference."""

    name: str
    title: str
    guide: str
    function: CheckFunction


CHECKS: dict[str, Check] = {}

#: Backup file name patterns (see the module's backup scripts).
BACKUP_PATTERNS: dict[str, str] = {
    "postgresql": "litellm-*.dump",
    "redis": "redis-*.rdb",
    "litellm-env": "litellm-env-*.tar.gz",
}
#: Tables the LiteLLM Prisma migrations create (a small, stable core).
CORE_TABLES: tuple[str, ...] = (
    "LiteLLM_VerificationToken",
    "LiteLLM_UserTable",
    "LiteLLM_TeamTable",
    "LiteLLM_ProxyModelTable",
    "LiteLLM_SpendLogs",
)


def check(name: str, title: str, guide: str = "") -> Callable[[CheckFunction], CheckFunction]:
    """Register a check and make it safe: it returns a result, whatever happens inside."""

    def decorate(function: CheckFunction) -> CheckFunction:
        @functools.wraps(function)
        def safe(ctx: Context) -> CheckResult:
            started = time.monotonic()
            try:
                result = function(ctx)
            except CheckFailedError as exc:
                result = failed(exc.reason, exc.hint, exc.evidence)
            except CheckSkippedError as exc:
                result = skipped(exc.reason, exc.evidence)
            except Exception as exc:
                result = failed(
                    f"the check itself broke: {type(exc).__name__}: {exc}",
                    "re-run with --json FILE and report the evidence",
                    traceback.format_exc(),
                )
            reason = " ".join(result.reason.split())  # always one line
            if len(reason) > 500:
                reason = reason[:497] + "..."
            result = replace(
                result,
                name=name,
                title=title,
                reason=reason,
                duration=time.monotonic() - started,
            )
            return result.redacted(ctx.secrets)

        CHECKS[name] = Check(name, title, guide, safe)
        return safe

    return decorate


def _require_systemd(ctx: Context) -> None:
    if not ctx.transport.has_systemd:
        raise CheckSkippedError(NO_SYSTEMD)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def _human_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _systemd_show(ctx: Context, unit: str, *properties: str) -> dict[str, str]:
    result = ctx.run(shell_commands.systemctl_show(unit, properties))
    if not result.ok:
        raise CheckFailedError(f"systemctl show {unit} failed: {result.why()}", "", result.stderr)
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name] = value
    return values


# --- connection -------------------------------------------------------------------------


@check("connection", "Reach the gateway's machine")
def check_connection(ctx: Context) -> CheckResult:
    """The transport works, and (over SSH) sudo works without a password."""
    result = ctx.run("echo verify-ok")
    if result.rc == SSH_ERROR_RC or "verify-ok" not in result.stdout:
        return failed(
            f"cannot reach {ctx.transport.description}: {result.why()}",
            "is the VM running (Proxmox)? does the name resolve? try: ssh tappaas@HOST; "
            "pass --host to use another address",
            result.stderr,
        )
    if not ctx.transport.has_systemd:
        return passed(f"commands run on {ctx.transport.description}")
    root = ctx.run("id -u", root=True)
    if not root.ok or root.stdout.strip() != "0":
        return failed(
            f"no root rights through {ctx.transport.description}: {root.why()}",
            "the user needs password-less sudo (TAPPaaS: the tappaas user is in wheel)",
            root.stderr,
        )
    return passed(f"commands run on {ctx.transport.description}, root rights available")


# --- test 1: services -------------------------------------------------------------------


@check("services", "All services running", "Test 1")
def check_services(ctx: Context) -> CheckResult:
    _require_systemd(ctx)
    units = list(ctx.target.units)
    result = ctx.run(shell_commands.systemctl_is_active(units))
    states = result.stdout.split()
    if len(states) != len(units):
        raise CheckFailedError(f"systemctl is-active failed: {result.why()}", "", result.stderr)
    bad = [(unit, state) for unit, state in zip(units, states, strict=True) if state != "active"]
    evidence = "\n".join(f"{unit}: {state}" for unit, state in zip(units, states, strict=True))
    if not bad:
        return passed(f"{len(units)} units active", evidence)
    for unit, _ in bad:
        journal = ctx.run(shell_commands.journal_tail(unit, 15), root=True)
        evidence += f"\n--- journalctl -u {unit} -n 15\n{journal.stdout.strip()}"
    first = bad[0][0]
    return failed(
        "not active: " + ", ".join(f"{unit} ({state})" for unit, state in bad),
        f"sudo journalctl -u {first} -n 50; sudo systemctl restart {first}",
        evidence,
    )


# --- checklist: secrets -----------------------------------------------------------------


@check("secrets-file", "Secrets file present, complete and private")
def check_secrets_file(ctx: Context) -> CheckResult:
    path = ctx.target.secrets_file
    stat = ctx.run(shell_commands.stat_file(path), root=True)
    if not stat.ok:
        if "No such file" in stat.why():
            return failed(
                f"{path} is missing",
                "sudo systemctl restart generate-litellm-secrets.service podman-litellm",
                stat.stderr,
            )
        raise CheckFailedError(f"cannot stat {path}: {stat.why()}", "", stat.stderr)
    mode, owner, group, size = [*stat.stdout.split(), "", "", "", ""][:4]
    evidence = f"{path}: mode {mode} owner {owner}:{group} size {size}"
    problems: list[str] = []
    hints: list[str] = []
    if mode != "600":
        problems.append(f"mode {mode}, expected 600")
        hints.append(f"sudo chmod 600 {path}")
    expected_owner = ctx.target.secrets_owner
    if expected_owner is not None and owner != expected_owner:
        problems.append(f"owner {owner}, expected {expected_owner}")
        hints.append(f"sudo chown {expected_owner}: {path}")
    env = ctx.secrets_env()
    missing = [name for name in ctx.target.secrets_variables if not env.get(name)]
    evidence += "\nvariables: " + ", ".join(sorted(env))
    if missing:
        problems.append("missing " + ", ".join(missing))
        hints.append(
            "sudo systemctl restart generate-litellm-secrets.service (it only adds missing "
            "variables), then sudo systemctl restart podman-litellm"
        )
    if problems:
        return failed(f"{path}: " + "; ".join(problems), "; ".join(hints), evidence)
    return passed(f"{path} mode 600, {len(ctx.target.secrets_variables)} variables set", evidence)


@check("master-key", "Master key present", "Checklist: master key retrieved and saved")
def check_master_key(ctx: Context) -> CheckResult:
    env = ctx.secrets_env()
    key = ctx.master_key()
    problems: list[str] = []
    if not key.startswith("sk-"):
        problems.append("does not start with sk-")
    if len(key) < 32:
        problems.append(f"only {len(key)} characters")
    if key in {"sk-1234", "sk-12345"}:
        problems.append("is a well-known default")
    salt = env.get("LITELLM_SALT_KEY", "")
    if not salt:
        problems.append("LITELLM_SALT_KEY is not set")
    if problems:
        return failed(
            "LITELLM_MASTER_KEY " + "; ".join(problems),
            "keys are generated by generate-litellm-secrets.service; never change the salt "
            "key once models are stored (their credentials become unreadable)",
        )
    # An install adopted from the install guide keeps its master key as salt key: LiteLLM
    # encrypted the stored provider keys with it (see README, "Moving an existing ... VM").
    salt_state = (
        "salt key equals the master key (adopted install: keep it, it decrypts the stored "
        "provider keys)"
        if salt == key
        else "salt key set and different"
    )
    return passed(
        f"LITELLM_MASTER_KEY set ({len(key)} chars), {salt_state}; "
        f"read it with: sudo grep LITELLM_MASTER_KEY {ctx.target.secrets_file}"
    )


# --- test 2: health ---------------------------------------------------------------------


@check("health", "API health endpoints", "Test 2")
def check_health(ctx: Context) -> CheckResult:
    """Public liveliness and readiness, plus the authenticated readiness details."""
    live = ctx.http("GET", "/health/liveliness")
    ctx.require_http(live, "GET /health/liveliness", json_body=False)
    ready = ctx.http("GET", "/health/readiness")
    evidence = live.evidence() + "\n" + ready.evidence()
    data = ready.json()
    db = data.get("db") if isinstance(data, dict) else None
    if not ready.ok or not isinstance(data, dict) or data.get("status") != "healthy":
        what = ready.error if ready.status is None else ready.message()
        raise CheckFailedError(
            f"/health/readiness not healthy: {what}" + (f" (db: {db})" if db else ""),
            "sudo systemctl status postgresql; sudo journalctl -u podman-litellm -n 100",
            evidence,
        )
    if ctx.target.database and db != "connected":
        raise CheckFailedError(
            f"proxy is not connected to PostgreSQL (readiness says db: {db})",
            "sudo systemctl status postgresql litellm-postgresql-password; "
            "sudo journalctl -u podman-litellm | grep -i -e prisma -e database",
            evidence,
        )
    details = ctx.http("GET", "/health/readiness/details", key=ctx.master_key())
    info = ctx.require_http(details, "GET /health/readiness/details (master key)")
    evidence += "\n" + details.evidence()
    version = info.get("litellm_version", "?") if isinstance(info, dict) else "?"
    cache = info.get("cache") if isinstance(info, dict) else None
    db_text = db if ctx.target.database else f"{db} (no database in this stack)"
    return passed(f"alive and ready: LiteLLM {version}, db {db_text}, cache {cache}", evidence)


@check("model-health", "Model endpoints healthy (/health)", "Test 2")
def check_model_health(ctx: Context) -> CheckResult:
    """``/health`` with the master key: it calls every configured model for real."""
    key = ctx.master_key()
    if not ctx.model_names():
        return skipped("no model configured yet; /health has nothing to call")
    response = ctx.http("GET", "/health", key=key, timeout=ctx.target.model_timeout)
    data = ctx.require_http(response, "GET /health (master key)")
    if not isinstance(data, dict):
        raise CheckFailedError("GET /health: unexpected answer", "", response.evidence())
    healthy = data.get("healthy_endpoints") or []
    unhealthy = data.get("unhealthy_endpoints") or []
    if unhealthy:
        names = []
        for entry in unhealthy:
            if isinstance(entry, dict):
                error = " ".join(str(entry.get("error", "")).split())[:120]
                names.append(
                    f"{entry.get('model', '?')} ({error})"
                    if error
                    else str(entry.get("model", "?"))
                )
        return failed(
            f"{len(unhealthy)} of {len(healthy) + len(unhealthy)} model endpoints unhealthy: "
            + "; ".join(names),
            "check the provider API key and api_base of that model (UI: Models); "
            "sudo journalctl -u podman-litellm -n 100",
            response.evidence(),
        )
    return passed(f"{_plural(len(healthy), 'model endpoint')} healthy", response.evidence())


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


# --- test 5: authentication -------------------------------------------------------------


@check("auth", "API authentication works", "Test 5")
def check_auth(ctx: Context) -> CheckResult:
    """No key and a wrong key are refused; the master key from the secrets file works.

    The key-info part of the guide's test 5 runs in ``request-flow`` with the temporary
    virtual key (``/key/info`` describes the key you call it with; the master key itself
    is not stored in the database).
    """
    key = ctx.master_key()
    path = "/v1/models"
    anonymous = ctx.http("GET", path)
    wrong = ctx.http("GET", path, key="sk-verify-wrong-" + uuid.uuid4().hex)
    evidence = anonymous.evidence() + "\n" + wrong.evidence()
    for response, who in ((anonymous, "without a key"), (wrong, "with a wrong key")):
        if response.status is None:
            ctx.require_http(response, f"GET {path}")
        if response.ok:
            return failed(
                f"GET {path} {who} succeeds (HTTP {response.status}): the API is open",
                "general_settings.master_key must be os.environ/LITELLM_MASTER_KEY; "
                "sudo systemctl restart podman-litellm",
                evidence,
            )
    good = ctx.http("GET", path, key=key)
    evidence += "\n" + good.evidence()
    if good.status is not None and not good.ok:
        return failed(
            f"the master key from {ctx.target.secrets_file} is rejected ({good.message()})",
            "the proxy may run with an older key: sudo systemctl restart podman-litellm "
            "(it reads the secrets file at start)",
            evidence,
        )
    ctx.require_http(good, f"GET {path} (master key)")
    return passed(
        f"master key accepted; no key -> HTTP {anonymous.status}, wrong key -> HTTP {wrong.status}",
        evidence,
    )


# --- test 6: model management -----------------------------------------------------------


@check("models", "Model management", "Test 6")
def check_models(ctx: Context) -> CheckResult:
    names = ctx.model_names()
    evidence = "\n".join(
        f"{entry.get('model_name')}: "
        f"{(entry.get('litellm_params') or {}).get('model', '?')}"
        f"{' (stored in DB)' if (entry.get('model_info') or {}).get('db_model') else ''}"
        for entry in ctx.models()
    )
    if not names:
        return passed(
            "model list answers; no models configured yet (add one in the UI: Models)",
            evidence,
        )
    shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
    return passed(f"{_plural(len(names), 'model')}: {shown}", evidence)


# --- test 7: complete request flow ------------------------------------------------------


def _chat(ctx: Context, model: str, key: str) -> tuple[CheckResult | None, str]:
    payload = {
        "model": model,
        # A unique prompt: never answered from the response cache.
        "messages": [
            {"role": "user", "content": f"Reply with the single word OK. ({uuid.uuid4().hex})"}
        ],
        "max_tokens": 16,
        "temperature": 0,
    }
    response = ctx.http(
        "POST", "/chat/completions", key=key, payload=payload, timeout=ctx.target.model_timeout
    )
    if not response.ok:
        what = response.error if response.status is None else response.message()
        return (
            failed(
                f"chat completion with {model} failed: {what}",
                "check the model's provider key/api_base (UI: Models, 'Test connect'); "
                "sudo journalctl -u podman-litellm -n 100",
                response.evidence(),
            ),
            response.evidence(),
        )
    data = response.json()
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return (
            failed(
                f"chat completion with {model}: no choices in the answer", "", response.evidence()
            ),
            response.evidence(),
        )
    text = " ".join(str(content or "").split())[:40]
    return None, f"{response.evidence()}\nanswer: {text!r} in {response.elapsed:.2f}s"


@check("request-flow", "Complete request flow", "Test 7")
def check_request_flow(ctx: Context) -> CheckResult:
    """Temporary virtual key (one model, tiny budget) -> one real chat request -> delete key."""
    master = ctx.master_key()
    names = ctx.model_names()
    model = ctx.target.model or (names[0] if names else None)
    if model is None:
        return skipped("no model configured; add one (UI: Models) to test a real request")
    if model not in names:
        return failed(
            f"model {model!r} is not configured (known: {', '.join(names) or 'none'})",
            "pass a configured model name",
        )
    if not ctx.target.database:
        chat_problem, chat_evidence = _chat(ctx, model, master)
        if chat_problem is not None:
            return chat_problem
        return passed(
            f"chat completion from {model} with the master key (virtual keys need the "
            "database, which this stack lacks)",
            chat_evidence,
        )
    alias = "tappaas-verify-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    created = ctx.http(
        "POST",
        "/key/generate",
        key=master,
        payload={
            "models": [model],
            "max_budget": 0.01,
            "duration": "10m",
            "key_alias": alias,
            "metadata": {"created_by": "tappaas-litellm verify"},
        },
    )
    data = ctx.require_http(created, "POST /key/generate")
    virtual_key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(virtual_key, str) or not virtual_key:
        raise CheckFailedError("POST /key/generate returned no key", "", created.evidence())
    ctx.remember_secret(virtual_key)
    evidence = f"temporary key {alias}: models=[{model}], max_budget 0.01, duration 10m"
    try:
        info = ctx.http("GET", "/key/info", key=virtual_key)
        evidence += "\n" + info.evidence()
        problem: CheckResult | None = None
        if not info.ok:
            problem = failed(
                f"GET /key/info with the temporary key failed: {info.message()}",
                "sudo journalctl -u podman-litellm -n 100",
            )
        else:
            problem, chat_evidence = _chat(ctx, model, virtual_key)
            evidence += "\n" + chat_evidence
    finally:
        deleted = ctx.http("POST", "/key/delete", key=master, payload={"keys": [virtual_key]})
    evidence += "\n" + deleted.evidence()
    if problem is not None:
        return replace(problem, evidence=evidence)
    if not deleted.ok:
        return failed(
            f"request worked, but the temporary key {alias} was not deleted: {deleted.message()}",
            f"delete it in the UI (Virtual Keys, alias {alias}); it expires after 10 minutes",
            evidence,
        )
    return passed(
        f"chat completion from {model} with a temporary virtual key (key info read, key "
        "deleted again)",
        evidence,
    )


# --- test 8: backups --------------------------------------------------------------------


def _backup_dirs(target: Target) -> list[tuple[str, str]]:
    root = target.backup_root.rstrip("/") or "/"
    return [("", root)] + [(kind, f"{root}/{kind}") for kind in BACKUP_KINDS]


@check("backup-dirs", "Backup directories created", "Test 8")
def check_backup_dirs(ctx: Context) -> CheckResult:
    dirs = _backup_dirs(ctx.target)
    result = ctx.run(shell_commands.backup_dirs([path for _, path in dirs]), root=True)
    lines = [line.split("|", 3) for line in result.stdout.splitlines() if line.count("|") >= 3]
    if len(lines) != len(dirs):
        raise CheckFailedError(
            f"cannot inspect {ctx.target.backup_root}: {result.why()}",
            "",
            result.stdout + result.stderr,
        )
    problems: list[str] = []
    owners = ctx.target.backup_owners
    for (kind, path), (ftype, mode, owner, _) in zip(dirs, lines, strict=True):
        if ftype == "missing":
            problems.append(f"{path} missing")
        elif ftype != "directory":
            problems.append(f"{path} is a {ftype}")
        else:
            if mode != "700":
                problems.append(f"{path} mode {mode}, expected 700")
            if owners is not None and kind in owners and owner != owners[kind]:
                problems.append(f"{path} owner {owner}, expected {owners[kind]}")
    evidence = result.stdout.strip()
    if lines[0][0] == "missing":
        problems = [f"{dirs[0][1]} missing"]
    if problems:
        return failed(
            "; ".join(problems),
            "the folders come from systemd-tmpfiles: sudo systemd-tmpfiles --create; "
            "sudo ls -la " + ctx.target.backup_root,
            evidence,
        )
    return passed(
        f"{ctx.target.backup_root} with {', '.join(BACKUP_KINDS)} (all mode 700)", evidence
    )


@check("backup-timers", "Backup timers scheduled", "Test 8")
def check_backup_timers(ctx: Context) -> CheckResult:
    _require_systemd(ctx)
    listing = ctx.run("systemctl list-timers --all --no-pager --no-legend")
    if not listing.ok:
        raise CheckFailedError(f"systemctl list-timers failed: {listing.why()}", "", listing.stderr)
    backup_lines = [line for line in listing.stdout.splitlines() if "backup" in line]
    problems: list[str] = []
    evidence_lines: list[str] = []
    nexts: list[str] = []
    for kind in BACKUP_KINDS:
        timer = f"litellm-backup-{kind}.timer"
        props = _systemd_show(
            ctx, timer, "ActiveState", "NextElapseUSecRealtime", "LastTriggerUSec", "Persistent"
        )
        evidence_lines.append(f"{timer}: " + ", ".join(f"{k}={v}" for k, v in props.items()))
        if props.get("ActiveState") != "active":
            problems.append(f"{timer} is {props.get('ActiveState') or 'unknown'}")
            continue
        if props.get("Persistent") not in (None, "yes"):
            problems.append(f"{timer} is not Persistent (missed runs are not caught up)")
        nexts.append(f"{kind} {props.get('NextElapseUSecRealtime') or '?'}")
    evidence = "\n".join([*evidence_lines, "--- list-timers | grep backup", *backup_lines])
    if problems:
        first = f"litellm-backup-{BACKUP_KINDS[0]}.timer"
        return failed(
            "; ".join(problems),
            f"sudo systemctl list-timers --all | grep backup; sudo systemctl status {first}",
            evidence,
        )
    return passed(
        f"{len(BACKUP_KINDS)} timers active ({len(backup_lines)} backup timers listed); next: "
        + "; ".join(nexts),
        evidence,
    )


def _newest_backup(
    ctx: Context, kind: str, now: float, limit: float
) -> tuple[str, list[str], list[str]]:
    """State of one backup kind: ("ok" | "none" | "bad", problems, evidence lines)."""
    root = ctx.target.backup_root.rstrip("/") or "/"
    folder = f"{root}/{kind}"
    pattern = BACKUP_PATTERNS[kind]
    service = f"litellm-backup-{kind}.service"
    evidence: list[str] = []
    problems: list[str] = []
    last_run: dict[str, str] = {}
    if ctx.transport.has_systemd:
        last_run = _systemd_show(ctx, service, "Result", "ExecMainStartTimestamp")
        evidence.append(f"{service}: " + ", ".join(f"{k}={v}" for k, v in last_run.items()))
        if last_run.get("Result", "success") != "success":
            problems.append(f"last {service} run: {last_run['Result']}")
    listing = ctx.run(shell_commands.newest_file(folder, pattern), root=True)
    if listing.rc == 3:
        return "bad", [*problems, f"{folder} missing"], evidence
    if not listing.ok:
        return "bad", [*problems, f"cannot list {folder}: {listing.why()}"], evidence
    newest = listing.stdout.strip()
    if not newest:
        evidence.append(f"{folder}: no {pattern}")
        if last_run.get("ExecMainStartTimestamp"):
            problems.append(f"{service} ran but {folder} has no {pattern}")
        return ("bad" if problems else "none"), problems, evidence
    stamp, size, name = [*newest.split(" ", 2), "", ""][:3]
    age = now - float(stamp)
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(stamp)))
    evidence.append(f"{folder}/{name}: {size} bytes, {when}")
    if int(size or 0) == 0:
        problems.append(f"{name} is empty")
    elif age > limit:
        problems.append(f"newest {kind} backup is {_human_age(age)} old ({name})")
    if problems:
        return "bad", problems, evidence
    return "ok", [f"{kind} {_human_age(age)} ago ({_human_bytes(float(size))})"], evidence


@check("backup-age", "Last backup recent")
def check_backup_age(ctx: Context) -> CheckResult:
    """The newest backup of each kind exists, is not empty and is younger than the limit.

    Before the first scheduled run (fresh VM) there are no backups: that is a skip,
    unless systemd says a backup service already ran or failed.
    """
    root = ctx.target.backup_root
    exists = ctx.run(shell_commands.directory_exists(root), root=True)
    if exists.rc == 1:
        return failed(
            f"{root} missing",
            "the folders come from systemd-tmpfiles: sudo systemd-tmpfiles --create",
        )
    now_result = ctx.run("date +%s")
    stamp = now_result.stdout.strip()
    now = float(stamp) if now_result.ok and stamp.isdigit() else time.time()
    limit = ctx.target.backup_max_age_hours * 3600
    problems: list[str] = []
    notes: list[str] = []
    never: list[str] = []
    failing: list[str] = []
    evidence: list[str] = []
    for kind in BACKUP_KINDS:
        state, lines, shown = _newest_backup(ctx, kind, now, limit)
        evidence += shown
        if state == "bad":
            problems += lines
            failing.append(kind)
        elif state == "none":
            never.append(kind)
        else:
            notes += lines
    text = "\n".join(evidence)
    if problems:
        first = failing[0]
        return failed(
            "; ".join(problems),
            f"sudo journalctl -u litellm-backup-{first} -n 50; run one now: "
            f"sudo systemctl start litellm-backup-{first}",
            text,
        )
    if not notes:
        return skipped(
            "no backups yet (they run at the timers' schedule; start one now with "
            "sudo systemctl start litellm-backup-postgresql)",
            text,
        )
    reason = "newest: " + "; ".join(notes)
    if never:
        reason += "; none yet for " + ", ".join(never)
    return passed(reason, text)


@check("disk-space", "Disk space left for backups")
def check_disk_space(ctx: Context) -> CheckResult:
    root = ctx.target.backup_root
    df = ctx.run(shell_commands.disk_free(root), root=True)
    fields = df.stdout.split()
    if not df.ok or len(fields) < 6:
        return failed(
            f"cannot measure free space at {root}: {df.why()}",
            "sudo ls -la " + root + "; sudo df -h",
            df.stdout + df.stderr,
        )
    avail = int(fields[3]) * 1024
    used_percent = int(fields[4].rstrip("%") or 0)
    usage = ctx.run(shell_commands.disk_usage(root), root=True)
    backups = int(usage.stdout.strip()) * 1024 if usage.stdout.strip().isdigit() else 0
    need = ctx.target.min_free_mib * 1024 * 1024
    evidence = f"{df.stdout.strip()}\nbackups use {_human_bytes(backups)}"
    text = (
        f"{_human_bytes(avail)} free on {fields[5]} ({used_percent}% used), "
        f"backups use {_human_bytes(backups)}"
    )
    if used_percent >= ctx.target.max_used_percent or avail < need:
        return failed(
            f"low disk space: {text}; need at least {_human_bytes(need)} free and "
            f"< {ctx.target.max_used_percent}% used",
            f"sudo du -sh {root}/*; lower backup.retentionDays or grow the disk (Proxmox)",
            evidence,
        )
    return passed(text, evidence)


# --- test 9: logs -----------------------------------------------------------------------


@check("logs", "Logs accessible", "Test 9")
def check_logs(ctx: Context) -> CheckResult:
    _require_systemd(ctx)
    counts: list[str] = []
    problems: list[str] = []
    evidence_lines: list[str] = []
    for unit in ctx.target.log_units:
        result = ctx.run(shell_commands.journal_count(unit), root=True)
        lines = result.stdout.strip()
        if not result.ok or not lines.isdigit():
            problems.append(f"journalctl -u {unit} failed: {result.why()}")
        elif lines == "0":
            problems.append(f"no log lines from {unit} since boot")
        else:
            counts.append(f"{unit} {lines}")
    main_unit = ctx.target.log_units[0] if ctx.target.log_units else "podman-litellm"
    errors = ctx.run(shell_commands.journal_errors(main_unit), root=True)
    error_count = errors.stdout.strip() or "?"
    recent = ctx.run(shell_commands.journal_tail(main_unit, 5, output="short-iso"), root=True)
    evidence_lines.append(f"--- last lines of {main_unit}\n{recent.stdout.strip()}")
    evidence = "\n".join(evidence_lines)
    if problems:
        return failed("; ".join(problems), "sudo journalctl -u " + main_unit + " -n 50", evidence)
    return passed(
        "journal lines since boot: "
        + ", ".join(counts)
        + f"; {error_count} error lines from {main_unit} in the last hour",
        evidence,
    )


# --- test 10: resources -----------------------------------------------------------------


def _meminfo(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"(\w+):\s+(\d+)", line)
        if match:
            values[match.group(1)] = int(match.group(2)) * 1024
    return values


@check("resources", "Resource usage normal", "Test 10")
def check_resources(ctx: Context) -> CheckResult:
    notes: list[str] = []
    problems: list[str] = []
    evidence: list[str] = []
    mem = ctx.run("cat /proc/meminfo")
    info = _meminfo(mem.stdout)
    total, available = info.get("MemTotal", 0), info.get("MemAvailable", 0)
    if total:
        notes.append(f"memory {_human_bytes(available)} of {_human_bytes(total)} available")
        if available < total * 0.10:
            problems.append(f"only {_human_bytes(available)} memory available")
        swap_total, swap_free = info.get("SwapTotal", 0), info.get("SwapFree", 0)
        if swap_total and swap_total - swap_free > swap_total * 0.5:
            problems.append(f"swap {_human_bytes(swap_total - swap_free)} used")
    else:
        evidence.append(f"/proc/meminfo unreadable: {mem.why()}")
    disk = ctx.run("df -Pk / | tail -n 1")
    fields = disk.stdout.split()
    if disk.ok and len(fields) >= 5:
        used = int(fields[4].rstrip("%") or 0)
        notes.append(f"/ {used}% used")
        if used >= ctx.target.max_used_percent:
            problems.append(f"root file system {used}% full")
        evidence.append(disk.stdout.strip())
    conns = ctx.psql("SELECT count(*), current_setting('max_connections') FROM pg_stat_activity;")
    parts = conns.stdout.strip().split("|")
    if conns.ok and len(parts) == 2 and all(p.isdigit() for p in parts):
        count, maximum = int(parts[0]), int(parts[1])
        notes.append(f"PostgreSQL connections {count}/{maximum}")
        if count >= maximum * 0.8:
            problems.append(f"PostgreSQL connections {count} of max {maximum}")
    else:
        problems.append(f"cannot count PostgreSQL connections: {conns.why()}")
    if ctx.transport.has_systemd:
        template = "{{.Name}} cpu={{.CPUPerc}} mem={{.MemUsage}}"
        stats = ctx.run(shell_commands.podman_stats(template, ctx.target.container), root=True)
        if stats.ok and stats.stdout.strip():
            notes.append("container " + stats.stdout.strip().split(" ", 1)[-1])
        else:
            problems.append(f"podman stats {ctx.target.container} failed: {stats.why()}")
    else:
        notes.append("container stats skipped (no podman on this transport)")
    evidence.append(mem.stdout.strip()[:400])
    if problems:
        return failed(
            "; ".join(problems),
            "free -h; df -h; sudo podman stats --no-stream litellm; "
            "sudo -u postgres psql -c 'SELECT count(*) FROM pg_stat_activity;'",
            "\n".join(notes + evidence),
        )
    return passed("; ".join(notes), "\n".join(evidence))


# --- running ----------------------------------------------------------------------------


def check_names() -> list[str]:
    """All check names, in the order they run."""
    return list(CHECKS)


def select_checks(only: Iterable[str] | None = None) -> list[Check]:
    """The checks to run; ``only`` names a subset (comma-separated names allowed)."""
    if not only:
        return list(CHECKS.values())
    wanted: list[str] = []
    for item in only:
        wanted += [name.strip() for name in item.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return [c for c in CHECKS.values() if c.name in wanted]


def run_checks(
    transport: Transport,
    target: Target | None = None,
    only: Sequence[str] | None = None,
    on_result: Callable[[CheckResult], Any] | None = None,
) -> list[CheckResult]:
    """Run the checks (all, or ``only`` these) and return their results in order.

    ``connection`` always runs first; when it fails the other checks are reported as
    failed without running (one clear reason instead of a dozen timeouts).
    """
    ctx = Context(transport, target or Target())
    selected = select_checks(only)
    results: list[CheckResult] = []

    def emit(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    first = check_connection(ctx)
    emit(first)
    for item in selected:
        if item.name == "connection":
            continue
        if first.failed:
            emit(
                CheckResult(
                    item.name,
                    Status.FAIL,
                    "not run: no connection (see 'connection')",
                    title=item.title,
                )
            )
            continue
        emit(item.function(ctx))
    return results


def summary_text(results: Sequence[CheckResult]) -> str:
    """Plain text, one line per check (plus hints of failures): for logs and assertions."""
    lines = []
    for result in results:
        lines.append(f"{result.status.value.upper():<4}  {result.name:<16} {result.reason}")
        if result.failed and result.hint:
            lines.append(f"      next: {result.hint}")
    return "\n".join(lines)


def assert_passed(results: Sequence[CheckResult], allow_skip: Iterable[str] = ()) -> None:
    """Raise AssertionError (with every line) when a check failed or skipped unexpectedly.

    For NixOS VM tests::

        results = run_checks(MachineTransport(machine), Target())
        assert_passed(results, allow_skip=["backup-age"])
    """
    allowed = set(allow_skip)
    bad = [r for r in results if r.failed or (r.skipped and r.name not in allowed)]
    if bad:
        names = ", ".join(f"{r.name} ({r.status.value})" for r in bad)
        raise AssertionError(f"verify: {names}\n{summary_text(results)}")
