"""Where the checks look: endpoints, files and limits, with the VM's values as defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

BACKUP_KINDS: tuple[str, ...] = ("postgresql", "redis", "litellm-env")
#: Settings that name files or folders on the gateway's machine.
PATH_SETTINGS: tuple[str, ...] = ("secrets_file", "backup_root")


@dataclass(frozen=True)
class Target:
    """Settings for one gateway; the defaults describe a TAPPaaS LiteLLM VM.

    The local CI stack overrides the endpoints (ports, a temporary secrets file and
    backup folder) and sets ``database=False`` because the proxy runs without its
    database there (no Prisma engines on the CI machine).
    """

    #: LiteLLM proxy base URL as seen from the gateway's machine.
    base_url: str = "http://127.0.0.1:4000"
    #: The env file with LITELLM_MASTER_KEY and friends (read with root rights).
    secrets_file: str = "/etc/secrets/litellm.env"
    #: Expected owner of the secrets file; None skips the owner test.
    secrets_owner: str | None = "root"
    #: Variables the secrets file must define.
    secrets_variables: tuple[str, ...] = (
        "LITELLM_MASTER_KEY",
        "LITELLM_SALT_KEY",
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
        "UI_USERNAME",
        "UI_PASSWORD",
    )
    #: Redis endpoint; the password defaults to REDIS_PASSWORD from the secrets file.
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str | None = None
    #: PostgreSQL: None = the local socket as the ``postgres`` OS user (``runuser``, root).
    pg_host: str | None = None
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: str | None = None
    pg_database: str = "litellm"
    #: True when the proxy is expected to use PostgreSQL (virtual keys, tables, /key/info).
    database: bool = True
    #: Units that must be active.
    units: tuple[str, ...] = (
        "postgresql.service",
        "redis-litellm.service",
        "podman-litellm.service",
        "generate-litellm-secrets.service",
    )
    #: Units whose journal the logs check reads.
    log_units: tuple[str, ...] = ("podman-litellm", "postgresql", "redis-litellm")
    #: Container name for ``podman stats``.
    container: str = "litellm"
    #: Backups: root folder with one sub-folder per kind (see BACKUP_KINDS).
    backup_root: str = "/var/backup"
    #: Expected owners of the backup folders (None skips the owner test).
    backup_owners: dict[str, str] | None = field(
        default_factory=lambda: {
            "": "root",
            "postgresql": "postgres",
            "redis": "root",
            "litellm-env": "root",
        }
    )
    #: Newest backup of each kind must be younger than this.
    backup_max_age_hours: float = 26.0
    #: Disk space that must stay free on the backup file system.
    min_free_mib: int = 1024
    max_used_percent: int = 90
    #: Model used by the request-flow check; None = the first configured model.
    model: str | None = None
    #: Seconds for ordinary commands/HTTP calls, and for calls that reach a model.
    timeout: float = 30.0
    model_timeout: float = 120.0

    def replace(self, **changes: Any) -> Target:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_settings(self, settings: dict[str, Any]) -> Target:
        """A copy with fields set from strings (``--set name=value``) or JSON values."""
        changes: dict[str, Any] = {}
        types = {f.name: str(f.type) for f in fields(self)}
        for name, raw in settings.items():
            if name not in types:
                raise ValueError(
                    f"unknown setting {name!r}; known: {', '.join(self.field_names())}"
                )
            kind = types[name]
            if not isinstance(raw, str):
                changes[name] = tuple(raw) if isinstance(raw, list) else raw
                continue
            value: Any
            if raw.lower() in {"none", "null"} and "None" in kind:
                value = None
            elif kind.startswith("bool"):
                value = raw.lower() in {"1", "true", "yes", "on"}
            elif kind.startswith("int"):
                value = int(raw)
            elif kind.startswith("float"):
                value = float(raw)
            elif kind.startswith("tuple"):
                value = tuple(part.strip() for part in raw.split(",") if part.strip())
            elif kind.startswith("dict"):
                pairs = (part.split(":", 1) for part in raw.split(",") if part.strip())
                value = {key.strip(): val.strip() for key, val in pairs}
            else:
                value = raw
            changes[name] = value
        for name in PATH_SETTINGS:
            value = changes.get(name)
            if value is not None and not str(value).startswith("/"):
                raise ValueError(f"{name} must be an absolute path (it is {value!r})")
        return self.replace(**changes)
