"""tappaas.litellm.metrics: the Redis exporter as metrics.nix runs it, against real Redis and
Debian's prometheus-redis-exporter on loopback.

Its password comes from litellm-secrets, its ACL user and environment file from
litellm-redis-exporter-env, Redis includes that ACL file, and the exporter gets the environment
file and `--redis.user`, as the units do. The exporter has no authentication of its own and its
/scrape?target= endpoint connects wherever a caller says: neither a cached value nor the Redis
password may come out of it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nixtools import ROOT, nix_eval
from stacklib import (
    MODULE_DIR,
    SCRIPTS_DIR,
    RedisServer,
    Scripts,
    free_port,
    parse_env_file,
    start_redis,
    stop_process,
    wait_until,
)

sys.path.insert(0, str(ROOT / "generator" / "tests"))
from genhelpers import RecordingListener

EXPORTER = shutil.which("prometheus-redis-exporter")
FIREWALL_LIB = MODULE_DIR / "lib" / "firewall-sources.nix"
CACHED = "cached-answer-for-a-paying-customer"


@dataclass(frozen=True)
class ExporterSetup:
    redis: RedisServer
    env_file: Path
    acl_file: Path
    start: Callable[..., str]  # starts an exporter, returns its base URL


@pytest.fixture(scope="module")
def setup(scripts: Scripts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterSetup]:
    if EXPORTER is None:
        pytest.fail("prometheus-redis-exporter not found (bash dev/setup)")
    base = tmp_path_factory.mktemp("exporter")
    secrets_dir, run_dir = base / "secrets", base / "run"
    exporter_pass = secrets_dir / "litellm-redis-exporter.pass"
    made = scripts.run(
        "litellm-secrets",
        env={
            "LITELLM_ENV_FILE": str(secrets_dir / "litellm.env"),
            "LITELLM_REDIS_PASSWORD_FILE": str(secrets_dir / "litellm-redis.pass"),
            "LITELLM_REDIS_EXPORTER_PASSWORD_FILE": str(exporter_pass),
        },
    )
    assert made.returncode == 0, made.stderr
    env_file, acl_file = run_dir / "env", run_dir / "users.acl"
    wrote = subprocess.run(
        ["bash", str(SCRIPTS_DIR / "litellm-redis-exporter-env.sh")],
        env={
            "PATH": "/usr/bin:/bin",
            "LITELLM_REDIS_EXPORTER_PASSWORD_FILE": str(exporter_pass),
            "LITELLM_EXPORTER_ENV_FILE": str(env_file),
            "LITELLM_REDIS_ACL_FILE": str(acl_file),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert wrote.returncode == 0, wrote.stderr
    password = (secrets_dir / "litellm-redis.pass").read_text().strip()
    redis = start_redis(base / "redis", password, include=acl_file)
    redis.cli("SET", "litellm:cache:answer", CACHED)
    redis.cli("SET", "sk-virtual-key-hash", CACHED, db=1)
    started: list[subprocess.Popen[bytes]] = []

    def start(environment: dict[str, str], *flags: str, address: str = "127.0.0.1") -> str:
        port = free_port()
        process = subprocess.Popen(
            [
                EXPORTER,
                f"-redis.addr=redis://127.0.0.1:{redis.port}",
                f"-web.listen-address={address}:{port}",
                *flags,
            ],
            env={"PATH": "/usr/bin:/bin", **environment},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        url = f"http://{address}:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 30, "prometheus-redis-exporter")
        return url

    yield ExporterSetup(redis, env_file, acl_file, start)
    for process in started:
        stop_process(process)
    redis.stop()


def as_the_module_runs_it(setup: ExporterSetup) -> str:
    """EnvironmentFile= the env file, extraFlags --redis.user (metrics.nix)."""
    return setup.start(parse_env_file(setup.env_file), "-redis.user=litellm-exporter")


def test_the_exporter_never_holds_the_redis_password(setup: ExporterSetup) -> None:
    environment = parse_env_file(setup.env_file)
    assert environment["REDIS_USER"] == "litellm-exporter"
    assert setup.redis.password not in setup.env_file.read_text()
    assert setup.redis.password not in setup.acl_file.read_text()


def test_metrics_come_through_the_exporters_own_user(setup: ExporterSetup) -> None:
    url = as_the_module_runs_it(setup)
    text = httpx.get(f"{url}/metrics", timeout=30).text
    assert "\nredis_up 1\n" in text, text[-2000:]
    for metric in (
        "redis_memory_used_bytes",
        "redis_evicted_keys_total",
        "redis_keyspace_hits_total",
    ):
        assert f"\n{metric} " in text, metric
    assert 'redis_db_keys{db="db0"} 1' in text


@pytest.mark.parametrize(
    "query",
    [
        "check-keys=*",
        "check-single-keys=litellm:cache:answer",
        "check-keys=db1=*",
        "count-keys=*",
    ],
)
def test_no_key_value_comes_back_through_a_scrape(setup: ExporterSetup, query: str) -> None:
    """The same requests against an exporter holding the Redis password return the cached
    value: the control shows the attack is real."""
    target = f"target=redis://127.0.0.1:{setup.redis.port}"
    own = as_the_module_runs_it(setup)
    scraped = httpx.get(f"{own}/scrape?{target}&{query}", timeout=30).text
    assert "\nredis_up 1\n" in scraped
    assert CACHED not in scraped
    assert "sk-virtual-key-hash" not in scraped

    with_password = setup.start({"REDIS_PASSWORD": setup.redis.password})
    leaked = httpx.get(f"{with_password}/scrape?{target}&check-keys=*", timeout=30).text
    assert CACHED in leaked, "control: with the Redis password the exporter hands out values"


def test_the_acl_user_reads_statistics_and_nothing_else(setup: ExporterSetup) -> None:
    password = parse_env_file(setup.env_file)["REDIS_PASSWORD"]

    def as_exporter(*args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(setup.redis.port), "--user", "litellm-exporter", *args],
            env={"PATH": "/usr/bin:/bin", "REDISCLI_AUTH": password},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout

    assert "redis_version:" in as_exporter("INFO", "server")
    assert "db0:keys=1" in as_exporter("INFO", "keyspace")
    for command in (
        ["GET", "litellm:cache:answer"],
        ["CONFIG", "GET", "requirepass"],
        ["SELECT", "1"],
        ["SCAN", "0"],
        ["KEYS", "*"],
        ["DUMP", "litellm:cache:answer"],
        ["MIGRATE", "127.0.0.1", "1", "", "0", "100", "KEYS", "litellm:cache:answer"],
        ["ACL", "LIST"],
        ["MONITOR"],
        ["SLOWLOG", "GET"],
        ["CLIENT", "LIST"],
        ["FLUSHALL"],
    ):
        reply = as_exporter(*command)
        assert reply.startswith("NOPERM"), (command, reply)
    assert setup.redis.cli("GET", "litellm:cache:answer") == CACHED


def Listener() -> RecordingListener:  # noqa: N802 - reads as the class it makes
    """A listener that records what a client sends and answers like a refusing Redis."""
    return RecordingListener(b"-ERR no\r\n")


def test_the_redis_password_is_never_sent_to_a_foreign_target(setup: ExporterSetup) -> None:
    listener = Listener()
    try:
        url = as_the_module_runs_it(setup)
        httpx.get(f"{url}/scrape?target=redis://127.0.0.1:{listener.port}", timeout=30)
        wait_until(lambda: b"litellm-exporter" in listener.received, 10, "the exporter's AUTH")
        assert setup.redis.password.encode() not in listener.received
    finally:
        listener.close()

    control = Listener()
    try:
        url = setup.start({"REDIS_PASSWORD": setup.redis.password})
        httpx.get(f"{url}/scrape?target=redis://127.0.0.1:{control.port}", timeout=30)
        wait_until(
            lambda: setup.redis.password.encode() in control.received,
            10,
            "control: an exporter holding the Redis password sends it to any target",
        )
    finally:
        control.close()


def test_on_loopback_another_address_is_refused(setup: ExporterSetup) -> None:
    """metrics.listenAddress defaults to 127.0.0.1: reached there, refused on 127.0.0.2."""
    url = as_the_module_runs_it(setup)
    port = int(url.rsplit(":", 1)[1])
    assert httpx.get(f"{url}/metrics", timeout=30).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=5)
    with socket.socket() as other:
        assert other.connect_ex(("127.0.0.2", port)) != 0


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def zone() -> Iterator[dict[str, str]]:
    """Three network namespaces made for the test: the VM (`vm`), the Prometheus named in
    allowedScrapers (`prometheus`, 10.250.1.2) and another host of the zone (`other`,
    10.250.2.2), each linked to the VM by its own veth pair."""
    tag = f"{os.getpid() % 10000}"
    names = {role: f"litellm-{role[:4]}-{tag}" for role in ("vm", "prometheus", "other")}
    for name in names.values():
        ip("netns", "add", name)
    try:
        ip("-n", names["vm"], "link", "set", "lo", "up")
        for index, role in ((1, "prometheus"), (2, "other")):
            inner, outer = f"lv{index}-{tag}", f"lc{index}-{tag}"
            ip(
                "link",
                "add",
                inner,
                "netns",
                names["vm"],
                "type",
                "veth",
                "peer",
                "name",
                outer,
                "netns",
                names[role],
            )
            ip("-n", names["vm"], "addr", "add", f"10.250.{index}.1/24", "dev", inner)
            ip("-n", names[role], "addr", "add", f"10.250.{index}.2/24", "dev", outer)
            ip("-n", names["vm"], "link", "set", inner, "up")
            ip("-n", names[role], "link", "set", outer, "up")
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def test_only_the_named_prometheus_gets_through_the_firewall(zone: dict[str, str]) -> None:
    """The rules metrics.nix gives nixpkgs' iptables firewall for allowedScrapers, run in a
    stand-in of its chains (nixos-fw: loopback, the extra commands, then refuse): the named
    Prometheus reaches the exporter, another address of the zone does not."""
    assert EXPORTER is not None
    rules = nix_eval(
        f'(import {FIREWALL_LIB} {{ sources = [ "10.250.1.2" ]; ports = [ 9121 ]; }}).iptables'
    )
    assert isinstance(rules, str) and "10.250.1.2" in rules
    vm = ["ip", "netns", "exec", zone["vm"]]
    firewall = (
        "iptables -N nixos-fw-accept && iptables -A nixos-fw-accept -j ACCEPT && "
        "iptables -N nixos-fw && iptables -A nixos-fw -i lo -j nixos-fw-accept && "
        f"{rules.strip().replace(chr(10), ' && ')} && "
        "iptables -A nixos-fw -j DROP && iptables -A INPUT -j nixos-fw"
    )
    subprocess.run([*vm, "sh", "-ec", firewall], check=True, capture_output=True, timeout=30)
    exporter = subprocess.Popen(
        [*vm, EXPORTER, "-web.listen-address=0.0.0.0:9121", "-redis.addr=redis://127.0.0.1:1"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = (
        "import socket, sys\n"
        "s = socket.socket(); s.settimeout(3)\n"
        "try:\n"
        "    s.connect((sys.argv[1], 9121)); s.sendall(b'GET /health HTTP/1.0\\r\\n\\r\\n')\n"
        "    print(s.recv(100).split(b'\\r\\n')[0].decode())\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n"
    )

    def from_(role: str, address: str) -> str:
        return subprocess.run(
            ["ip", "netns", "exec", zone[role], sys.executable, "-c", probe, address],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()

    try:
        wait_until(lambda: from_("prometheus", "10.250.1.1") == "HTTP/1.0 200 OK", 30, "exporter")
        assert from_("other", "10.250.2.1") in {"TimeoutError", "timeout"}
        assert from_("prometheus", "10.250.1.1") == "HTTP/1.0 200 OK"
    finally:
        stop_process(exporter)
