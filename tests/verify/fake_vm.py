"""A scripted stand-in for a TAPPaaS LiteLLM VM, answering the commands the checks send.

It covers what the local stack cannot: systemd units and timers, the journal, podman, the
proxy *with* its database (virtual keys, tables, migrations). Each answer is plain data on
the object, so a test breaks one part and looks at the verdict.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from typing import Any

from tappaas_litellm.verify import CommandResult
from tappaas_litellm.verify.checks_stores import CORE_TABLES

MASTER = "sk-" + "1f" * 32
SALT = "sk-" + "2e" * 32
REDIS_PASSWORD = "3d" * 32
MODEL = "gpt-4o-mini"

Handler = Callable[[dict[str, Any]], tuple[int, Any]]


def parse_curl_config(text: str) -> dict[str, Any]:
    """The curl ``-K`` config the checks write: name = "quoted value" lines and flags."""
    config: dict[str, Any] = {"header": []}
    for line in text.splitlines():
        name, sep, raw = line.partition(" = ")
        if not sep:
            config[line.strip()] = True
            continue
        value = raw
        if raw.startswith('"') and raw.endswith('"'):
            value = re.sub(
                r"\\(.)",
                lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)),
                raw[1:-1],
            )
        if name == "header":
            config["header"].append(value)
        else:
            config[name] = value
    return config


class FakeVM:
    description = "fake vm"
    has_systemd = True

    def __init__(self) -> None:
        self.env = {
            "LITELLM_MASTER_KEY": MASTER,
            "LITELLM_SALT_KEY": SALT,
            "DATABASE_PASSWORD": "4c" * 32,
            "REDIS_PASSWORD": REDIS_PASSWORD,
            "UI_USERNAME": "admin",
            "UI_PASSWORD": "5b" * 20,
        }
        self.secrets_stat = "600 root root 400"
        self.units = {
            "postgresql.service": "active",
            "redis-litellm.service": "active",
            "podman-litellm.service": "active",
            "generate-litellm-secrets.service": "active",
        }
        self.timers = {
            kind: {
                "ActiveState": "active",
                "NextElapseUSecRealtime": f"Mon 2026-11-30 02:{minute}:00 CET",
                "LastTriggerUSec": "n/a",
                "Persistent": "yes",
            }
            for kind, minute in (("postgresql", "00"), ("redis", "30"), ("litellm-env", "45"))
        }
        self.services = {
            kind: {"Result": "success", "ExecMainStartTimestamp": "Sun 2026-11-29 02:00:01 CET"}
            for kind in ("postgresql", "redis", "litellm-env")
        }
        self.now = int(time.time())
        self.backups: dict[str, str] = {
            "postgresql": f"{self.now - 3600}.5 52000 litellm-20261129T020000Z.dump",
            "redis": f"{self.now - 3600}.5 9000 redis-20261129T023000Z.rdb",
            "litellm-env": f"{self.now - 3600}.5 700 litellm-env-20261129T024500Z.tar.gz",
        }
        self.backup_dirs = {
            "/var/backup": "directory|700|root",
            "/var/backup/postgresql": "directory|700|postgres",
            "/var/backup/redis": "directory|700|root",
            "/var/backup/litellm-env": "directory|700|root",
        }
        self.tables = [*CORE_TABLES, "LiteLLM_Config", "_prisma_migrations"]
        self.unfinished_migrations: list[str] = []
        self.pg_up = True
        self.redis_reply = "PONG"
        self.journal_lines = 120
        self.podman = "litellm cpu=1.5% mem=900MB / 4GB"
        self.readiness: dict[str, Any] = {"status": "healthy", "db": "connected"}
        self.models = [
            {
                "model_name": MODEL,
                "litellm_params": {"model": "openai/gpt-4o-mini"},
                "model_info": {"db_model": True},
            }
        ]
        self.chat_status = 200
        self.delete_status = 200
        self.keys: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.commands: list[tuple[str, bool]] = []

    # -- the transport interface -----------------------------------------------------------
    def run(self, command, *, timeout=30.0, stdin=None, root=False) -> CommandResult:
        self.commands.append((command, root))
        for pattern, handler in self._rules():
            match = re.search(pattern, command)
            if match:
                return handler(command, stdin or "", match)
        return CommandResult(127, "", f"fake vm: no rule for {command!r}")

    def _rules(self):
        return [
            (r"^echo verify-ok", lambda c, s, m: CommandResult(0, "verify-ok\n", "")),
            (r"^id -u$", lambda c, s, m: CommandResult(0, "0\n", "")),
            (r"^date \+%s$", lambda c, s, m: CommandResult(0, f"{self.now}\n", "")),
            (r"^test -d (\S+)$", self._test_dir),
            (r"^curl -K -$", self._curl),
            (r"^cat -- (\S+)$", self._cat),
            (r"^stat -c '%a %U %G %s'", lambda c, s, m: CommandResult(0, self.secrets_stat, "")),
            (r"^systemctl is-active -- (.*)$", self._is_active),
            (r"^systemctl list-timers", self._list_timers),
            (r"^systemctl show --no-pager -p (\S+) -- (\S+)$", self._show),
            (
                r"journalctl .* \| wc -l$",
                lambda c, s, m: CommandResult(0, f"{self.journal_lines}\n", ""),
            ),
            (r"journalctl .* grep -c", lambda c, s, m: CommandResult(0, "2\n", "")),
            (r"^journalctl", lambda c, s, m: CommandResult(0, "a log line\n", "")),
            (r"runuser -u postgres -- psql .* -c (.*)$", self._psql),
            (r"redis-cli .* (PING|INFO)$", self._redis),
            (r"stat -c '%F\|%a\|%U\|%n'", self._backup_dirs),
            (r"^test -d (\S+) .* find", self._find),
            (
                r"^df -Pk -- ",
                lambda c, s, m: CommandResult(0, "/dev/sda1 30000000 9000000 21000000 30% /\n", ""),
            ),
            (r"^du -sk", lambda c, s, m: CommandResult(0, "61000\n", "")),
            (
                r"^cat /proc/meminfo$",
                lambda c, s, m: CommandResult(
                    0,
                    "MemTotal: 4000000 kB\nMemAvailable: 2500000 kB\nSwapTotal: 0 kB\n"
                    "SwapFree: 0 kB\n",
                    "",
                ),
            ),
            (
                r"^df -Pk / ",
                lambda c, s, m: CommandResult(0, "/dev/sda1 30000000 9000000 21000000 30% /\n", ""),
            ),
            (r"^podman stats", lambda c, s, m: CommandResult(0, self.podman + "\n", "")),
        ]

    # -- handlers ----------------------------------------------------------------------------
    def _cat(self, command, stdin, match):
        text = "".join(f"{k}={v}\n" for k, v in self.env.items())
        return CommandResult(0, text, "")

    def _is_active(self, command, stdin, match):
        units = match.group(1).split()
        states = [self.units.get(unit, "inactive") for unit in units]
        rc = 0 if all(s == "active" for s in states) else 3
        return CommandResult(rc, "".join(f"{s}\n" for s in states), "")

    def _list_timers(self, command, stdin, match):
        lines = [
            f"{props['NextElapseUSecRealtime']} 10h left n/a n/a "
            f"litellm-backup-{kind}.timer litellm-backup-{kind}.service"
            for kind, props in self.timers.items()
            if props["ActiveState"] == "active"
        ]
        return CommandResult(0, "\n".join(lines) + "\n", "")

    def _show(self, command, stdin, match):
        names, unit = match.group(1).split(","), match.group(2)
        kind = re.sub(r"^litellm-backup-|\.(timer|service)$", "", unit)
        props = (
            self.timers.get(kind, {}) if unit.endswith(".timer") else self.services.get(kind, {})
        )
        return CommandResult(0, "".join(f"{n}={props.get(n, '')}\n" for n in names), "")

    def _psql(self, command, stdin, match):
        if not self.pg_up:
            return CommandResult(
                2,
                "",
                "psql: error: connection to server on socket "
                '"/run/postgresql/.s.PGSQL.5432" failed: No such file',
            )
        sql = shlex.split(match.group(1))[0]
        if "version()" in sql:
            return CommandResult(0, "PostgreSQL 17.5 on x86_64-pc-linux-gnu\n", "")
        if "pg_database" in sql:
            return CommandResult(0, "1\n", "")
        if "information_schema.tables" in sql:
            return CommandResult(0, "".join(f"{t}\n" for t in self.tables), "")
        if "_prisma_migrations" in sql:
            return CommandResult(0, "".join(f"{m}\n" for m in self.unfinished_migrations), "")
        if "pg_stat_activity" in sql:
            return CommandResult(0, "12|100\n", "")
        return CommandResult(1, "", f"unexpected SQL {sql}")

    def _redis(self, command, stdin, match):
        if stdin.strip() != REDIS_PASSWORD:
            return CommandResult(0, "NOAUTH Authentication required.\n\n", "")
        if match.group(1) == "PING":
            return CommandResult(0, self.redis_reply + "\n", "")
        info = (
            "# Server\nredis_version:7.2.5\n# Persistence\naof_enabled:1\n"
            "rdb_last_bgsave_status:ok\naof_last_write_status:ok\n# Memory\n"
            "used_memory_human:2.5M\nmaxmemory_human:512.00M\n# Keyspace\n"
            "db0:keys=12,expires=10,avg_ttl=0\n"
        )
        return CommandResult(0, info, "")

    def _backup_dirs(self, command, stdin, match):
        lines = []
        for path in re.findall(r"-- '?(/[^' ]+)'? 2>/dev/null", command):
            state = self.backup_dirs.get(path)
            lines.append(f"{state}|{path}" if state else f"missing|||{path}")
        return CommandResult(0, "\n".join(lines) + "\n", "")

    def _test_dir(self, command, stdin, match):
        return CommandResult(0 if match.group(1) in self.backup_dirs else 1, "", "")

    def _find(self, command, stdin, match):
        folder = match.group(1).strip("'")
        kind = folder.rsplit("/", 1)[-1]
        if folder not in self.backup_dirs:
            return CommandResult(3, "", "missing folder\n")
        return CommandResult(0, self.backups.get(kind, "") + "\n", "")

    # -- the proxy's HTTP API ----------------------------------------------------------------
    def _curl(self, command, stdin, match):
        config = parse_curl_config(stdin)
        method, url = config["request"], config["url"]
        path = re.sub(r"^https?://[^/]+", "", url)
        auth = next((h for h in config["header"] if h.startswith("Authorization: ")), None)
        key = auth.split("Bearer ", 1)[1] if auth else None
        body = json.loads(config["data-binary"]) if "data-binary" in config else None
        self.requests.append((method, path, key))
        status, payload = self._route(method, path, key, body)
        text = json.dumps(payload)
        return CommandResult(0, f"{text}\n@@http_code={status}@@", "")

    def _route(self, method, path, key, body) -> tuple[int, Any]:
        unauthorized = (401, {"error": {"message": "Authentication Error, invalid key"}})
        if path == "/health/liveliness":
            return 200, "I'm alive!"
        if path == "/health/readiness":
            return 200, self.readiness
        if key != MASTER and key not in self.keys:
            return unauthorized
        if path == "/health/readiness/details":
            return 200, {**self.readiness, "cache": "redis", "litellm_version": "1.89.3"}
        if path == "/health":
            return 200, {
                "healthy_endpoints": [{"model": "openai/gpt-4o-mini"}],
                "unhealthy_endpoints": [],
                "healthy_count": 1,
                "unhealthy_count": 0,
            }
        if path == "/v1/models":
            return 200, {"data": [{"id": m["model_name"]} for m in self.models]}
        if path == "/model/info":
            return 200, {"data": self.models}
        if path == "/key/generate" and key == MASTER:
            new = "sk-virtual" + "9a" * 20
            self.keys[new] = body
            return 200, {"key": new, **body}
        if path == "/key/info" and key in self.keys:
            return 200, {"key": key, "info": self.keys[key]}
        if path == "/chat/completions":
            if key in self.keys and body["model"] not in self.keys[key]["models"]:
                return 401, {"error": {"message": "key not allowed to access model"}}
            if self.chat_status != 200:
                return self.chat_status, {"error": {"message": "provider said no"}}
            return 200, {"choices": [{"message": {"role": "assistant", "content": "OK"}}]}
        if path == "/key/delete" and key == MASTER:
            if self.delete_status != 200:
                return self.delete_status, {"error": {"message": "delete broke"}}
            for gone in body["keys"]:
                self.keys.pop(gone, None)
                self.deleted.append(gone)
            return 200, {"deleted_keys": body["keys"]}
        return 404, {"error": {"message": f"no route {method} {path}"}}
