"""The local stack for the tests: the module's scripts, PostgreSQL, Redis and LiteLLM.

``tests/conftest.py`` turns these into session fixtures; tests import the dataclasses and helpers
from here (``from stacklib import ...``), never from a conftest.

The servers are started by small functions rather than pytest-postgresql / pytest-redis:
PostgreSQL refuses to run as root, which is how CI runs, and pytest-postgresql has no way to start
it as another user; pytest-redis's fixture factory cannot turn AOF on.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
MODULE_DIR = REPO_ROOT / "modules" / "litellm"
SCRIPTS_DIR = MODULE_DIR / "scripts"
BASE_CONFIG_FILE = MODULE_DIR / "base-config.json"
ENVIRONMENT_NIX = MODULE_DIR / "lib" / "environment.nix"
CONTAINER_ARGS_NIX = MODULE_DIR / "lib" / "container-args.nix"

SCRIPT_NAMES = (
    "litellm-secrets",
    "litellm-postgresql-password",
    "litellm-postgresql-guard",
    "litellm-backup-postgresql",
    "litellm-backup-redis",
    "litellm-backup-env",
    "litellm-backup-prune",
    "litellm-restore",
    "litellm-upgrade-helper",
    "litellm-image-load",
)
SECRET_NAMES = (
    "LITELLM_MASTER_KEY",
    "LITELLM_SALT_KEY",
    "DATABASE_PASSWORD",
    "REDIS_PASSWORD",
    "UI_USERNAME",
    "UI_PASSWORD",
)
# Variables of the developer's shell that must not reach the scripts or LiteLLM.
_FOREIGN_PREFIXES = ("PG", "REDIS", "LITELLM_", "BACKUP_", "DATABASE_", "UI_")

MODEL_NAME = "fake-gpt"
UPSTREAM_API_KEY = "upstream-test-key-not-a-secret"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as podman's --env-file and systemd's EnvironmentFile read ours."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key] = value
    return values


def clean_environ() -> dict[str, str]:
    """os.environ without anything that would steer the scripts or LiteLLM from outside."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}


def postgresql_bin_dir() -> Path:
    """PG_BIN, else the newest /usr/lib/postgresql/<major>/bin (Debian), else pg_ctl on PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM to the process group started with start_new_session, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


# --------------------------------------------------------------------------------------------
# the module's scripts
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scripts:
    """The module's scripts on PATH, named as the module installs them (links to the files)."""

    bin_dir: Path
    pg_bin_dir: Path

    def path(self, name: str) -> Path:
        return self.bin_dir / name

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A clean environment with the scripts and PostgreSQL's tools first on PATH."""
        env = clean_environ()
        env["PATH"] = f"{self.bin_dir}:{self.pg_bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
        env.update(extra or {})
        return env

    def run(
        self,
        name: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run a script by its installed name; never raises on a non-zero exit."""
        return subprocess.run(
            [name, *args],
            env=self.env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def link_scripts(bin_dir: Path) -> Scripts:
    """bin_dir/<name> -> modules/litellm/scripts/<name>.sh for every script of the module."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in SCRIPT_NAMES:
        source = SCRIPTS_DIR / f"{name}.sh"
        if not source.is_file():
            raise RuntimeError(f"missing script {source}")
        (bin_dir / name).symlink_to(source)
    return Scripts(bin_dir=bin_dir, pg_bin_dir=postgresql_bin_dir())


# --------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackSecrets:
    env_file: Path
    redis_password_file: Path
    values: dict[str, str]

    @property
    def master_key(self) -> str:
        return self.values["LITELLM_MASTER_KEY"]

    @property
    def salt_key(self) -> str:
        return self.values["LITELLM_SALT_KEY"]

    @property
    def database_password(self) -> str:
        return self.values["DATABASE_PASSWORD"]

    @property
    def redis_password(self) -> str:
        return self.values["REDIS_PASSWORD"]


def generate_secrets(scripts: Scripts, secrets_dir: Path) -> StackSecrets:
    """What generate-litellm-secrets.service does at first boot."""
    env_file = secrets_dir / "litellm.env"
    pass_file = secrets_dir / "litellm-redis.pass"
    result = scripts.run(
        "litellm-secrets",
        env={"LITELLM_ENV_FILE": str(env_file), "LITELLM_REDIS_PASSWORD_FILE": str(pass_file)},
    )
    if result.returncode != 0:
        raise RuntimeError(f"litellm-secrets failed: {result.stderr}")
    return StackSecrets(
        env_file=env_file, redis_password_file=pass_file, values=parse_env_file(env_file)
    )


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    socket_dir: Path
    data_dir: Path
    bin_dir: Path
    superuser: str
    superuser_password: str
    os_user: str  # the OS user the server runs as
    db_name: str = "litellm"
    db_user: str = "litellm"
    db_password: str = ""

    @property
    def major(self) -> int:
        return int((self.data_dir / "PG_VERSION").read_text().strip())

    def env(self, database: str | None = None) -> dict[str, str]:
        """libpq variables for the superuser over TCP with its password."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.superuser,
            "PGPASSWORD": self.superuser_password,
        }
        if database:
            env["PGDATABASE"] = database
        return env

    def psql(
        self,
        sql: str,
        database: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60,
    ) -> str:
        """Run SQL (ON_ERROR_STOP) as the superuser or `user`; tuples only; raises on error."""
        env = clean_environ() | self.env()
        if user is not None:
            env["PGUSER"] = user
            env["PGPASSWORD"] = password or ""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database or self.db_name,
            ],
            input=sql,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self) -> None:
        subprocess.run(
            [
                *as_user(self.os_user),
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def as_user(os_user: str) -> list[str]:
    """Prefix that runs a command as os_user (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0 and os_user != "root":
        return ["runuser", "-u", os_user, "--"]
    return []


def start_postgresql(bin_dir: Path, db_password: str) -> PostgresServer:
    """A fresh cluster on a free loopback port: superuser `postgres` with a random password
    (SCRAM over TCP, trust on its private socket), as root run as the OS user `postgres`."""
    me = pwd.getpwuid(os.geteuid()).pw_name
    os_user = "postgres" if os.geteuid() == 0 else me
    # Outside pytest's root-only temp folder: the server's user must reach it.
    base = Path(tempfile.mkdtemp(prefix="litellm-pg-"))
    data_dir, socket_dir = base / "data", base / "run"
    socket_dir.mkdir()
    superuser_password = os.urandom(16).hex()
    pwfile = base / "pwfile"
    pwfile.write_text(superuser_password + "\n")
    pwfile.chmod(0o600)
    if os_user != me:
        entry = pwd.getpwnam(os_user)
        for path in (base, socket_dir, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    base.chmod(0o700)
    port = free_port()
    run_as = as_user(os_user)
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    pwfile.unlink()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(base / "postgresql.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return PostgresServer(
        host="127.0.0.1",
        port=port,
        socket_dir=socket_dir,
        data_dir=data_dir,
        bin_dir=bin_dir,
        superuser="postgres",
        superuser_password=superuser_password,
        os_user=os_user,
        db_password=db_password,
    )


def write_password_file(path: Path, password: str) -> Path:
    """DATABASE_PASSWORD alone on one line, 0600, as litellm-secrets writes litellm-db.pass."""
    path.write_text(password + "\n")
    path.chmod(0o600)
    return path


def prepare_litellm_database(server: PostgresServer, scripts: Scripts) -> None:
    """What NixOS's ensureDatabases/ensureUsers (ensureDBOwnership) create, without a password,
    then litellm-postgresql-password.service with the secrets file as its EnvironmentFile."""
    server.psql(f'CREATE ROLE "{server.db_user}" LOGIN;', database="postgres")
    server.psql(
        f'CREATE DATABASE "{server.db_name}" OWNER "{server.db_user}";', database="postgres"
    )
    result = scripts.run(
        "litellm-postgresql-password",
        env=server.env("postgres")
        | {
            "LITELLM_DB_PASSWORD_FILE": str(
                write_password_file(server.data_dir.parent / "db.pass", server.db_password)
            ),
            "LITELLM_DB_USER": server.db_user,
        },
    )
    if result.returncode != 0:
        raise RuntimeError(f"litellm-postgresql-password failed: {result.stderr}")


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    password: str
    data_dir: Path
    appendonly: bool
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """What the backup and restore scripts read."""
        return {
            "REDIS_HOST": self.host,
            "REDIS_PORT": str(self.port),
            "REDIS_PASSWORD": self.password,
        }

    def cli(self, *args: str, db: int = 0, input: str | None = None) -> str:
        """redis-cli with the password in REDISCLI_AUTH; raises on an error reply."""
        result = subprocess.run(
            ["redis-cli", "-h", self.host, "-p", str(self.port), "-n", str(db), *args],
            env=clean_environ() | {"REDISCLI_AUTH": self.password},
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        out = result.stdout.rstrip("\n")
        if result.returncode != 0 or out.startswith(("ERR", "WRONGPASS", "NOAUTH")):
            raise RuntimeError(f"redis-cli {' '.join(args)}: {out} {result.stderr.strip()}")
        return out

    def ping(self) -> bool:
        try:
            return self.cli("PING") == "PONG"
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def restart(self) -> RedisServer:
        """Stop (SIGTERM) and start again on the same data directory and port."""
        stop_process(self.process)
        return start_redis(self.data_dir, self.password, port=self.port, appendonly=self.appendonly)

    def stop(self) -> None:
        stop_process(self.process)


def start_redis(
    data_dir: Path,
    password: str,
    port: int | None = None,
    appendonly: bool = True,
    include: Path | None = None,
) -> RedisServer:
    """redis-server configured like the module's redis-litellm, on loopback; `include` is a
    further config file, as metrics.nix adds the exporter's ACL user."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    port = port or free_port()
    conf = data_dir / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                f"dir {data_dir}",
                "daemonize no",
                f"logfile {data_dir / 'redis.log'}",
                f"appendonly {'yes' if appendonly else 'no'}",
                "appendfsync everysec",
                "save 900 1 300 10 60 10000",
                "maxmemory 512mb",
                "maxmemory-policy allkeys-lru",
                f"requirepass {password}",
                *([f"include {include}"] if include else []),
                # Timing only: `redis-cli --rdb` would otherwise wait 5 s for more replicas.
                "repl-diskless-sync-delay 0",
                "",
            ]
        )
    )
    conf.chmod(0o600)
    process = subprocess.Popen(
        ["redis-server", str(conf)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer("127.0.0.1", port, password, data_dir, appendonly, process)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {tail(data_dir / 'redis.log')}")
        return server.ping() and "loading:0" in server.cli("INFO", "persistence")

    wait_until(ready, 30, "redis-server")
    return server


# --------------------------------------------------------------------------------------------
# backup folders
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupDirs:
    root: Path
    postgresql: Path
    redis: Path
    litellm_env: Path

    def env(self) -> dict[str, str]:
        return {"BACKUP_ROOT": str(self.root)}


def make_backup_dirs(root: Path) -> BackupDirs:
    """<root>/{postgresql,redis,litellm-env}, all 0700, as the module's tmpfiles rules."""
    dirs = BackupDirs(root, root / "postgresql", root / "redis", root / "litellm-env")
    for path in (dirs.root, dirs.postgresql, dirs.redis, dirs.litellm_env):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
    return dirs


# --------------------------------------------------------------------------------------------
# LiteLLM
# --------------------------------------------------------------------------------------------
def eval_module_lib(path: Path, expr: str) -> Any:
    """The JSON value of a pure file of modules/litellm/lib, evaluated with Debian's Nix."""
    nix_instantiate = shutil.which("nix-instantiate")
    if nix_instantiate is None:
        raise RuntimeError("nix-instantiate not found (apt-get install nix-bin)")
    result = subprocess.run(
        [nix_instantiate, "--eval", "--strict", "--json", "-E", expr],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"evaluating {path} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def container_environment(redis_host: str, redis_port: int) -> dict[str, str]:
    """The container's non-secret environment, from the module's own environment.nix."""
    env = eval_module_lib(
        ENVIRONMENT_NIX,
        f"import {ENVIRONMENT_NIX} {{ redisHost = {json.dumps(redis_host)}; "
        f"redisPort = {int(redis_port)}; }}",
    )
    if not isinstance(env, dict):
        raise RuntimeError(f"{ENVIRONMENT_NIX} did not evaluate to an attribute set")
    return {str(k): str(v) for k, v in env.items()}


def container_args(
    config_file: Path, port: int, workers: int, max_requests: int | None
) -> dict[str, list[str]]:
    """The container's `cmd` and podman `extraOptions`, from the module's container-args.nix."""
    limit = "null" if max_requests is None else str(int(max_requests))
    value = eval_module_lib(
        CONTAINER_ARGS_NIX,
        f"import {CONTAINER_ARGS_NIX} {{ port = {int(port)}; workers = {int(workers)}; "
        f"maxRequestsBeforeRestart = {limit}; configPath = {json.dumps(str(config_file))}; }}",
    )
    if not isinstance(value, dict):
        raise RuntimeError(f"{CONTAINER_ARGS_NIX} did not evaluate to an attribute set")
    return {str(k): [str(arg) for arg in v] for k, v in value.items()}


def render_config(upstream_base_url: str) -> dict[str, Any]:
    """base-config.json plus one model served by the fake upstream, as `settings` would add it;
    its key comes from the environment like a provider key from an environment file."""
    config: dict[str, Any] = json.loads(BASE_CONFIG_FILE.read_text())
    config["model_list"] = [
        {
            "model_name": MODEL_NAME,
            "litellm_params": {
                "model": f"openai/{MODEL_NAME}",
                "api_base": upstream_base_url,
                "api_key": "os.environ/UPSTREAM_API_KEY",
            },
        }
    ]
    return config


@dataclass(frozen=True)
class LiteLLMProxy:
    url: str
    host: str
    port: int
    master_key: str
    model: str
    config_file: Path
    env_file: Path
    provider_env_file: Path
    environment: dict[str, str]  # the non-secret container environment it was started with
    log_file: Path
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.master_key}"}

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


def litellm_bin() -> Path:
    override = os.environ.get("LITELLM_BIN")
    path = Path(override) if override else REPO_ROOT / ".venv-litellm" / "bin" / "litellm"
    if not path.exists():
        raise RuntimeError(f"{path} not found: install litellm[proxy] into .venv-litellm")
    return path


def start_litellm(
    workdir: Path,
    upstream_base_url: str,
    redis: RedisServer,
    secrets: StackSecrets,
    *,
    workers: int = 1,
    max_requests: int | None = None,
    extra_args: Sequence[str] = (),
    overlay: dict[str, Any] | None = None,
) -> LiteLLMProxy:
    """The real proxy with the module's base configuration, the container's command line,
    environment and secrets file, and the real Redis. No DATABASE_*: without a database LiteLLM
    needs no Prisma engines, which cannot be downloaded on these machines (the NixOS VM tests
    cover it). `max_requests` is the module's maxRequestsBeforeRestart; `extra_args` are added
    to the container's arguments; `overlay` holds sections a module option adds (e.g.
    metrics-settings.json), merged one level deep."""
    config = render_config(upstream_base_url)
    for section, values in (overlay or {}).items():
        config[section] = {**config.get(section, {}), **values}
    environment = container_environment(redis.host, redis.port)
    environment = {k: v for k, v in environment.items() if not k.startswith("DATABASE_")}
    return launch_litellm(
        workdir,
        config,
        environment,
        secrets,
        workers=workers,
        max_requests=max_requests,
        extra_args=tuple(extra_args),
    )


def launch_litellm(
    workdir: Path,
    config: Mapping[str, Any],
    environment: Mapping[str, str],
    secrets: StackSecrets,
    workers: int = 1,
    max_requests: int | None = None,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 120,
) -> LiteLLMProxy:
    """The real proxy with `config` (written as config.yaml), the container environment
    `environment`, then the secrets file and the provider keys as environment files (without
    DATABASE_*), and the container's command line from container-args.nix for `workers` and
    `max_requests`, plus `extra_args`; waits until /health/liveliness answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "config.yaml"
    # JSON is YAML: LiteLLM reads it with its YAML loader, like the module's rendered file.
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    provider_env_file = workdir / "providers.env"
    provider_env_file.write_text(f"UPSTREAM_API_KEY={UPSTREAM_API_KEY}\n")
    provider_env_file.chmod(0o600)

    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": clean_environ().get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **environment,
        # The container's environment files: the secrets file, then the provider keys.
        **{
            k: v
            for k, v in parse_env_file(secrets.env_file).items()
            if not k.startswith("DATABASE_")
        },
        **parse_env_file(provider_env_file),
    }
    port = free_port()
    log_file = workdir / "litellm.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                str(litellm_bin()),
                *container_args(config_file, port, workers, max_requests)["cmd"],
                *extra_args,
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proxy = LiteLLMProxy(
        url=f"http://127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
        master_key=secrets.master_key,
        model=MODEL_NAME,
        config_file=config_file,
        env_file=secrets.env_file,
        provider_env_file=provider_env_file,
        environment=dict(environment),
        log_file=log_file,
        process=process,
    )

    def alive() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"litellm exited with {process.returncode}:\n{tail(log_file)}")
        try:
            return httpx.get(f"{proxy.url}/health/liveliness", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(alive, startup_timeout, "litellm", interval=0.5)
    except BaseException:
        proxy.stop()
        raise
    return proxy
