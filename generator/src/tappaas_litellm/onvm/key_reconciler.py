"""Service keys: one LiteLLM virtual key per consuming module, kept in line with a desired state.

The desired state is a JSON file the NixOS module renders from ``tappaas.litellm.serviceKeys``
(no secrets in it). :func:`reconcile` makes LiteLLM match it through the key API:

- a consumer without a key gets one (alias ``litellm-svc-<consumer>``, as TAPPaaS names them);
  its plaintext is written root-only (0600) to ``<key dir>/litellm-svc-<consumer>.key``;
- a consumer with a key gets its limits updated when they differ; the key itself never changes;
- a key of a consumer no longer declared is deleted only with ``prune``, and only when this
  reconciler made it (the metadata marker), never a key made by hand or by ``ensure``.

LiteLLM returns a key's plaintext only when it creates it: a key whose file was lost cannot be
recovered. As TAPPaaS's own service scripts do, it is revoked and a new one is made (``replaced``);
the consumer gets the new key at its next install-service or update-service.

:func:`check` is ``test-service`` on the VM: the consumer's key exists with its file, reaches a
model, and every model stored in the database carries its own ``api_key``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tappaas_litellm.common.web import open_url

__all__ = [
    "ALIAS_PREFIX",
    "MANAGED",
    "MARKER",
    "Action",
    "ApiError",
    "DesiredState",
    "KeySpec",
    "KeyStore",
    "LiteLLMApi",
    "ServiceKeyError",
    "alias",
    "check",
    "ensure",
    "load_state",
    "reconcile",
    "revoke",
]

ALIAS_PREFIX = "litellm-svc-"
# Metadata marker: which path made a key. Only MANAGED keys are ever pruned.
MARKER = "tappaas_managed_by"
MANAGED = "tappaas.litellm.serviceKeys"
ENSURED = "tappaas-litellm service-key --ensure"

CONSUMER = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.]+")

# The fields of a key this module manages, as LiteLLM names them.
LIMIT_FIELDS = ("models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")


class ServiceKeyError(Exception):
    """A problem that stops a command; its message is one line."""


class ApiError(ServiceKeyError):
    def __init__(self, method: str, path: str, status: int | None, detail: str) -> None:
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"LiteLLM {method} {path}: {where}: {detail}")
        self.status = status


def alias(consumer: str) -> str:
    return f"{ALIAS_PREFIX}{consumer}"


def check_consumer(consumer: str) -> str:
    if not CONSUMER.fullmatch(consumer):
        raise ServiceKeyError(
            f"consumer {consumer!r} is not a module name; allowed: a DNS label in lower case "
            "(letters, digits, '-'), e.g. openwebui"
        )
    return consumer


class KeySpec(BaseModel):
    """Limits of one consumer's key, as LiteLLM's /key/generate names them."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=list)  # empty: every model
    max_budget: float | None = None
    budget_duration: str | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def fields(self, marker: str) -> dict[str, Any]:
        """What LiteLLM should hold for this key (the metadata carries the marker)."""
        values = self.model_dump()
        values["metadata"] = {**self.metadata, MARKER: marker}
        return values


class DesiredState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consumers: dict[str, KeySpec] = Field(default_factory=dict)
    prune: bool = False

    @field_validator("consumers")
    @classmethod
    def _names(cls, value: dict[str, KeySpec]) -> dict[str, KeySpec]:
        for name in value:
            if not CONSUMER.fullmatch(name):
                raise ValueError(f"consumer {name!r} is not a lower-case DNS label")
        return value


def load_state(path: Path) -> DesiredState:
    try:
        return DesiredState.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ServiceKeyError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ServiceKeyError(f"{path}: {where}: {first['msg']}") from None


# ----------------------------------------------------------------------------------------------
# the key files on the VM
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyStore:
    """``<directory>/litellm-svc-<consumer>.key``, root-only, written atomically."""

    directory: Path

    def path(self, consumer: str) -> Path:
        return self.directory / f"{alias(consumer)}.key"

    def read(self, consumer: str) -> str | None:
        try:
            text = self.path(consumer).read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def write(self, consumer: str, key: str) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{alias(consumer)}.", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(key + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path(consumer))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def remove(self, consumer: str) -> bool:
        try:
            self.path(consumer).unlink()
        except FileNotFoundError:
            return False
        return True


# ----------------------------------------------------------------------------------------------
# LiteLLM's key API
# ----------------------------------------------------------------------------------------------
@dataclass
class LiteLLMApi:
    base_url: str
    master_key: str
    timeout: float = 30.0

    def _request(
        self, method: str, path: str, body: object = None, query: dict[str, str] | None = None
    ) -> Any:
        url = self.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.master_key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with open_url(request, self.timeout) as response:
                text = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise ApiError(method, path, exc.code, _error_text(detail)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(method, path, None, str(reason)) from None
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            raise ApiError(method, path, 200, f"not JSON: {text[:200]!r}") from None

    def wait_ready(
        self,
        attempts: int,
        interval: float,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        """Until /health/readiness answers 200; a clear error after `attempts` tries."""
        last = ""
        for attempt in range(1, attempts + 1):
            try:
                self._request("GET", "/health/readiness")
                return
            except ApiError as exc:
                last = str(exc)
            if attempt < attempts:
                if attempt == 1 or attempt % 6 == 0:
                    log(f"waiting for LiteLLM at {self.base_url} ({last})")
                sleep(interval)
        raise ServiceKeyError(
            f"LiteLLM at {self.base_url} is not ready after {attempts} tries "
            f"{interval:g} s apart; last: {last}"
        )

    def service_keys(self) -> list[dict[str, Any]]:
        """Every key whose alias starts with litellm-svc- (LiteLLM's filter is a substring)."""
        keys: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self._request(
                "GET",
                "/key/list",
                query={
                    "key_alias": ALIAS_PREFIX,
                    "return_full_object": "true",
                    "size": "100",
                    "page": str(page),
                },
            )
            if not isinstance(answer, dict) or not isinstance(answer.get("keys"), list):
                raise ApiError("GET", "/key/list", 200, f"unexpected answer {str(answer)[:200]}")
            for item in answer["keys"]:
                if isinstance(item, dict) and str(item.get("key_alias") or "").startswith(
                    ALIAS_PREFIX
                ):
                    keys.append(item)
            total_pages = answer.get("total_pages") or 1
            if page >= int(total_pages) or not answer["keys"]:
                return keys
            page += 1

    def generate(self, key_alias: str, fields: dict[str, Any]) -> str:
        body = {"key_alias": key_alias, "duration": None, **fields}
        answer = self._request("POST", "/key/generate", body)
        key = answer.get("key") if isinstance(answer, dict) else None
        if not isinstance(key, str) or not _KEY_CHARS.fullmatch(key):
            raise ApiError("POST", "/key/generate", 200, "the answer holds no key")
        return key

    def update(self, token: str, fields: dict[str, Any]) -> None:
        self._request("POST", "/key/update", {"key": token, **fields})

    def delete(self, token: str) -> None:
        self._request("POST", "/key/delete", {"keys": [token]})

    def models(self, key: str) -> list[str]:
        """The model names `key` may use (GET /v1/models with that key)."""
        answer = LiteLLMApi(self.base_url, key, self.timeout)._request("GET", "/v1/models")
        data = answer.get("data") if isinstance(answer, dict) else None
        return [str(m.get("id")) for m in data or [] if isinstance(m, dict)]


def _error_text(body: str) -> str:
    """LiteLLM's error message from a JSON error body, on one line."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return " ".join(body.split())[:300] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data))
        if isinstance(error, dict):
            error = error.get("message", error.get("error", error))
        return " ".join(str(error).split())[:300]
    return " ".join(str(data).split())[:300]


# ----------------------------------------------------------------------------------------------
# reconciling
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """What happened to one consumer's key: created, updated, unchanged, kept, deleted, lost."""

    kind: str
    consumer: str
    detail: str = ""

    def line(self) -> str:
        text = f"{self.kind:<9} {alias(self.consumer)}"
        return f"{text}: {self.detail}" if self.detail else text


def _differences(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for name in LIMIT_FIELDS:
        have = existing.get(name)
        want = wanted[name]
        if name == "models":
            have = list(have or [])
        if name == "metadata":
            # LiteLLM may add entries of its own: only the declared ones are compared.
            have = {k: v for k, v in dict(have or {}).items() if k in want}
        if have != want:
            changed[name] = want
    return changed


def _by_consumer(keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in keys:
        consumer = str(item["key_alias"])[len(ALIAS_PREFIX) :]
        found.setdefault(consumer, item)
    return found


def _replace(
    api: LiteLLMApi, store: KeyStore, consumer: str, wanted: dict[str, Any], token: str
) -> Action:
    """The key exists but its file is gone (LiteLLM keeps only a hash): a new key."""
    api.delete(token)
    key = api.generate(alias(consumer), wanted)
    store.write(consumer, key)
    return Action(
        "replaced",
        consumer,
        f"{store.path(consumer)} was missing; the old key is revoked, a new one written there "
        "(the consumer gets it at its next install-service or update-service)",
    )


def _apply(
    api: LiteLLMApi,
    store: KeyStore,
    consumer: str,
    wanted: dict[str, Any],
    existing: dict[str, Any] | None,
) -> Action:
    if existing is None:
        key = api.generate(alias(consumer), wanted)
        store.write(consumer, key)
        return Action("created", consumer, f"key written to {store.path(consumer)}")
    if store.read(consumer) is None:
        return _replace(api, store, consumer, wanted, str(existing["token"]))
    changed = _differences(existing, wanted)
    if changed:
        api.update(str(existing["token"]), changed)
    if changed:
        return Action("updated", consumer, ", ".join(sorted(changed)))
    return Action("unchanged", consumer)


def reconcile(api: LiteLLMApi, store: KeyStore, state: DesiredState) -> list[Action]:
    """Make LiteLLM's service keys match `state`; one Action per consumer touched or seen."""
    existing = _by_consumer(api.service_keys())
    actions = [
        _apply(api, store, consumer, spec.fields(MANAGED), existing.get(consumer))
        for consumer, spec in sorted(state.consumers.items())
    ]
    for consumer, item in sorted(existing.items()):
        if consumer in state.consumers:
            continue
        marker = (item.get("metadata") or {}).get(MARKER)
        if marker != MANAGED:
            continue  # made by hand or by `ensure`: never pruned
        if state.prune:
            api.delete(str(item["token"]))
            store.remove(consumer)
            actions.append(Action("deleted", consumer, "no longer declared (prune)"))
        else:
            actions.append(
                Action("kept", consumer, "no longer declared; still valid (prune is off)")
            )
    return actions


def ensure(api: LiteLLMApi, store: KeyStore, state: DesiredState, consumer: str) -> Action:
    """A key for `consumer`: its declared limits, else a key without limits made on demand."""
    check_consumer(consumer)
    existing = _by_consumer(api.service_keys()).get(consumer)
    spec = state.consumers.get(consumer)
    if spec is not None:
        return _apply(api, store, consumer, spec.fields(MANAGED), existing)
    if existing is None or store.read(consumer) is None:
        return _apply(api, store, consumer, KeySpec().fields(ENSURED), existing)
    return Action("unchanged", consumer, "exists (not declared in tappaas.litellm.serviceKeys)")


def revoke(api: LiteLLMApi, store: KeyStore, state: DesiredState, consumer: str) -> Action:
    """Delete `consumer`'s key and its file."""
    check_consumer(consumer)
    existing = _by_consumer(api.service_keys()).get(consumer)
    removed = store.remove(consumer)
    note = ""
    if consumer in state.consumers:
        note = "; still declared in tappaas.litellm.serviceKeys, so the next run makes a new key"
    if existing is None:
        what = "key file removed" if removed else "no key"
        return Action("absent", consumer, what + note)
    api.delete(str(existing["token"]))
    return Action("deleted", consumer, "revoked" + note)


def check(
    api: LiteLLMApi, store: KeyStore, consumer: str, stored: list[tuple[str, bool]] | None
) -> list[tuple[bool | None, str]]:
    """test-service, on the VM: (passed, what) for each check, None when it cannot run here.

    `stored`: the models stored in LiteLLM's database, each with whether it carries its own
    key (``api_key`` or a stored credential); LiteLLM's /model/info never shows an api_key.
    None: no database on this VM (a gateway: its datastore has it).
    """
    check_consumer(consumer)
    results: list[tuple[bool | None, str]] = []
    existing = _by_consumer(api.service_keys()).get(consumer)
    key = store.read(consumer)
    if existing is None:
        results.append((False, f"no key {alias(consumer)} in LiteLLM; run install-service"))
    elif key is None:
        results.append((False, f"{store.path(consumer)} is missing; run update-service"))
    else:
        results.append((True, f"key {alias(consumer)} exists, its file {store.path(consumer)}"))
        try:
            models = api.models(key)
        except ApiError as exc:
            models, why = [], str(exc)
        else:
            why = "no model"
        if models:
            results.append((True, f"the key reaches {len(models)} model(s): {', '.join(models)}"))
        else:
            results.append((False, f"the key of {consumer} reaches no model: {why}"))
    if stored is None:
        results.append((None, "models stored in the database: no database on this VM"))
        return results
    keyless = [name for name, has_key in stored if not has_key]
    if keyless:
        results.append(
            (
                False,
                f"{len(keyless)} model(s) stored in the database without their own api_key "
                f"({', '.join(keyless)}): they fail once the provider key changes; set api_key",
            )
        )
    else:
        results.append((True, f"all {len(stored)} model(s) stored in the database have an api_key"))
    return results
