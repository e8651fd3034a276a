"""Shared state for one verify run and the probes the checks use (HTTP, psql, redis-cli).

Every probe is a shell command run through the transport, so the same code works
over SSH, in a NixOS test VM and on the local CI stack. Secrets never appear on a
command line: the master key, request bodies and passwords go in through stdin.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.result import CheckFailedError
from tappaas_litellm.verify.target import Target
from tappaas_litellm.verify.transport import TIMEOUT_RC, CommandResult, Transport

_WRITE_OUT_MARK = "\n@@http_code="

#: curl exit codes worth a sentence of their own
_CURL_ERRORS = {
    6: "cannot resolve the host name",
    7: "connection refused",
    28: "timed out",
    52: "empty reply from server",
    56: "connection reset while receiving",
    127: "curl is not installed",
}

NO_SYSTEMD = "no systemd on this transport (the local stack runs its services as test fixtures)"
NO_DATABASE = (
    "the proxy runs without its database here (the local stack has no Prisma engines); "
    "this is checked on the VM"
)


@dataclass
class HttpResponse:
    """What came back from one HTTP call (``status`` is None when nothing came back)."""

    method: str
    url: str
    status: int | None
    body: str
    error: str = ""
    elapsed: float = 0.0
    #: True when the call carried the master key.
    master_key: bool = False

    @property
    def key_rejected(self) -> bool:
        """The proxy did not accept the key (401/403; 400 "No connected db." without a DB)."""
        return self.status in (401, 403) or (self.status == 400 and "no_db_connection" in self.body)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def message(self) -> str:
        """A short description of an error response (LiteLLM's error message if any)."""
        if self.status is None:
            return self.error
        data = self.json()
        text = ""
        if isinstance(data, dict):
            err = data.get("error", data.get("detail"))
            if isinstance(err, dict):
                text = str(err.get("message") or err)
            elif err is not None:
                text = str(err)
        if not text:
            text = self.body.strip()
        text = " ".join(text.split())
        return f"HTTP {self.status}" + (f": {text[:200]}" if text else "")

    def evidence(self) -> str:
        body = self.body.strip()
        if len(body) > 1500:
            body = body[:1500] + " ..."
        code = self.status if self.status is not None else f"no response ({self.error})"
        return f"{self.method} {self.url} -> {code} in {self.elapsed:.2f}s\n{body}".rstrip()


def _curl_string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def parse_env(text: str) -> dict[str, str]:
    """Parse ``NAME=value`` lines (optionally quoted); comments and blanks are ignored."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


@dataclass
class Context:
    """One verify run: the transport, the target and what earlier checks learned."""

    transport: Transport
    target: Target = field(default_factory=Target)
    #: Values that must never show up in results (filled while reading secrets).
    secrets: set[str] = field(default_factory=set)
    _env: dict[str, str] | None = None
    _env_error: CheckFailedError | None = None
    _models: list[dict[str, Any]] | None = None

    # -- commands -----------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        stdin: str | None = None,
        root: bool = False,
    ) -> CommandResult:
        return self.transport.run(
            command, timeout=timeout or self.target.timeout, stdin=stdin, root=root
        )

    def remember_secret(self, value: str) -> None:
        if len(value) >= 8:
            self.secrets.add(value)

    # -- secrets file -------------------------------------------------------------
    def secrets_env(self) -> dict[str, str]:
        """The secrets file's variables (read once, with root rights)."""
        if self._env is not None:
            return self._env
        if self._env_error is not None:
            raise self._env_error
        path = self.target.secrets_file
        result = self.run(shell_commands.cat_file(path), root=True)
        if not result.ok:
            why = result.why()
            if "No such file" in why:
                hint = (
                    "sudo systemctl status generate-litellm-secrets.service; "
                    "sudo systemctl restart generate-litellm-secrets.service podman-litellm"
                )
                self._env_error = CheckFailedError(f"secrets file {path} is missing", hint, why)
            else:
                self._env_error = CheckFailedError(
                    f"cannot read secrets file {path}: {why}",
                    "the SSH user needs password-less sudo; try: sudo ls -l " + path,
                    why,
                )
            raise self._env_error
        env = parse_env(result.stdout)
        for value in env.values():
            self.remember_secret(value)
        self._env = env
        return env

    def master_key(self) -> str:
        key = self.secrets_env().get("LITELLM_MASTER_KEY", "")
        if not key:
            raise CheckFailedError(
                f"LITELLM_MASTER_KEY is not set in {self.target.secrets_file}",
                "sudo systemctl restart generate-litellm-secrets.service (adds missing keys), "
                "then sudo systemctl restart podman-litellm",
            )
        return key

    def redis_password(self) -> str:
        if self.target.redis_password is not None:
            self.remember_secret(self.target.redis_password)
            return self.target.redis_password
        return self.secrets_env().get("REDIS_PASSWORD", "")

    # -- HTTP ---------------------------------------------------------------------
    def http(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        payload: Any = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Call the proxy with curl on the gateway's machine (config and body via stdin)."""
        seconds = timeout or self.target.timeout
        url = self.target.base_url.rstrip("/") + path
        config = [
            f"url = {_curl_string(url)}",
            f"request = {_curl_string(method)}",
            "silent",
            "show-error",
            'noproxy = "*"',
            f"max-time = {seconds:g}",
            "connect-timeout = 5",
            f"write-out = {_curl_string(_WRITE_OUT_MARK + '%{http_code}@@')}",
        ]
        if key is not None:
            config.append(f"header = {_curl_string('Authorization: Bearer ' + key)}")
        if payload is not None:
            config.append('header = "Content-Type: application/json"')
            config.append(f"data-binary = {_curl_string(json.dumps(payload))}")
        started = time.monotonic()
        result = self.run("curl -K -", timeout=seconds + 10, stdin="\n".join(config) + "\n")
        elapsed = time.monotonic() - started
        body, sep, tail = result.stdout.rpartition(_WRITE_OUT_MARK)
        status: int | None = None
        if sep:
            code = tail.split("@@", 1)[0]
            status = int(code) if code.isdigit() and code != "000" else None
        else:
            body = result.stdout
        error = ""
        if status is None:
            if result.rc == TIMEOUT_RC:
                error = f"timed out after {seconds:g}s"
            else:
                error = _CURL_ERRORS.get(result.rc, "")
                detail = result.why()
                error = f"{error} ({detail})" if error else detail
        master = key is not None and key == (self._env or {}).get("LITELLM_MASTER_KEY")
        return HttpResponse(method, url, status, body, error, elapsed, master)

    def require_http(self, response: HttpResponse, what: str, *, json_body: bool = True) -> Any:
        """The JSON body of a 2xx response; anything else ends the check with fail."""
        if response.status is None:
            raise CheckFailedError(
                f"{what}: no answer from {self.target.base_url}: {response.error}",
                "sudo systemctl status podman-litellm; sudo journalctl -u podman-litellm -n 100; "
                "sudo ss -tlnp | grep 4000",
                response.evidence(),
            )
        if response.master_key and response.key_rejected:
            raise CheckFailedError(
                f"{what}: master key rejected ({response.message()})",
                f"the proxy runs with another master key than {self.target.secrets_file}: "
                "sudo systemctl restart podman-litellm (it reads the file at start)",
                response.evidence(),
            )
        if not response.ok:
            raise CheckFailedError(
                f"{what}: {response.message()}",
                "sudo journalctl -u podman-litellm -n 100",
                response.evidence(),
            )
        if not json_body:
            return response.body
        data = response.json()
        if data is None:
            raise CheckFailedError(f"{what}: answer is not JSON", "", response.evidence())
        return data

    def models(self) -> list[dict[str, Any]]:
        """``/model/info`` entries (fetched once with the master key)."""
        if self._models is None:
            response = self.http("GET", "/model/info", key=self.master_key())
            data = self.require_http(response, "GET /model/info")
            entries = data.get("data") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                raise CheckFailedError(
                    "GET /model/info: unexpected answer (no data list)", "", response.evidence()
                )
            self._models = [entry for entry in entries if isinstance(entry, dict)]
        return self._models

    def model_names(self) -> list[str]:
        names: list[str] = []
        for entry in self.models():
            name = entry.get("model_name")
            if isinstance(name, str) and name not in names:
                names.append(name)
        return names

    # -- PostgreSQL and Redis ------------------------------------------------------
    def psql(self, sql: str, database: str | None = None) -> CommandResult:
        """Run one SQL statement with psql (unaligned, tuples only)."""
        target = self.target
        database = database or "postgres"
        if target.pg_host is None:
            return self.run(shell_commands.psql(sql, database), root=True)
        command = shell_commands.psql(
            sql,
            database,
            host=target.pg_host,
            port=target.pg_port,
            user=target.pg_user,
            password_on_stdin=target.pg_password is not None,
        )
        if target.pg_password is None:
            return self.run(command)
        self.remember_secret(target.pg_password)
        return self.run(command, stdin=target.pg_password + "\n")

    def redis_cli(self, *args: str) -> CommandResult:
        """Run redis-cli against the target's Redis; the password goes in through stdin."""
        password = self.redis_password()
        self.remember_secret(password)
        target = self.target
        command = shell_commands.redis_cli(target.redis_host, target.redis_port, args)
        return self.run(command, stdin=password + "\n")
