# Test script of nixos-tests/scaleout/default.nix, run by the NixOS test driver
# (`datastore`, `gateway1`, `gateway2`, `client`, `subtest` and `start_all`
# come from the driver; `address`, `connect` and the outcomes from common/network.py).
# Requests go from `client`, as they would through
# TAPPaaS's proxy.
import json
import shlex
from typing import Any

PROVIDER = "http://127.0.0.1:8099"
MODEL = "test-model"
PRICED = "priced-model"
SECRETS = "/etc/secrets"
GATEWAYS = {"gateway1": gateway1, "gateway2": gateway2}


def url(gateway: str, path: str) -> str:
    return f"http://{gateway}:4000{path}"


def call(gateway: str, method: str, path: str, key: str, body: object = None) -> tuple[int, str]:
    """One request from the client; the HTTP status and the body."""
    # The gateways' LiteLLM listens on 0.0.0.0: IPv4.
    cmd = ["curl", "-4", "-s", "-o", "/tmp/api-body", "-w", "%{http_code}", "-X", method]
    cmd += [url(gateway, path), "-H", f"Authorization: Bearer {key}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    status = int(client.succeed(shlex.join(cmd)).strip())
    return status, client.succeed("cat /tmp/api-body")


def api(gateway: str, method: str, path: str, key: str, body: object = None) -> Any:
    status, text = call(gateway, method, path, key, body)
    assert status == 200, f"{gateway} {method} {path}: HTTP {status}: {text}"
    return json.loads(text)


def chat(gateway: str, key: str, text: str, model: str = MODEL) -> tuple[int, str]:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return call(gateway, "POST", "/chat/completions", key, body)


def answer(gateway: str, key: str, text: str, model: str = MODEL) -> str:
    status, body = chat(gateway, key, text, model)
    assert status == 200, f"{gateway}: HTTP {status}: {body}"
    content: str = json.loads(body)["choices"][0]["message"]["content"]
    return content


def served(gateway: str) -> int:
    """Completions the gateway's own fake provider has answered."""
    control = GATEWAYS[gateway].succeed(f"curl -sf {PROVIDER}/_control")
    count: int = json.loads(control)["completions_served"]
    return count


def spend(gateway: str, master: str, key: str) -> float:
    return float(api(gateway, "GET", f"/key/info?key={key}", master)["info"]["spend"])


def env_value(name: str) -> str:
    return datastore.succeed(f"grep -m1 '^{name}=' {SECRETS}/litellm.env | cut -d= -f2-").strip()


def refuses(gateway: str, key: str, text: str) -> bool:
    status, body = chat(gateway, key, text, PRICED)
    if status == 200:
        return False
    assert status in (400, 429) and "budget" in body.lower(), f"{gateway}: {status}: {body}"
    return True


start_all()

with subtest("the datastore: PostgreSQL and Redis on its zone address, no LiteLLM"):
    for unit in ("postgresql.target", "litellm-postgresql-password.service", "redis-litellm"):
        datastore.wait_for_unit(unit)
    zone = address(datastore, 4)
    datastore.wait_until_succeeds(f"ss -tln | grep -F '{zone}:5432'", timeout=60)
    datastore.wait_until_succeeds(f"ss -tln | grep -F '{zone}:6379'", timeout=60)
    datastore.fail("systemctl cat podman-litellm.service")
    master = env_value("LITELLM_MASTER_KEY")

with subtest("a gateway without the datastore's secrets starts nothing of its own"):
    for gateway in GATEWAYS.values():
        gateway.wait_until_succeeds(
            "journalctl -u generate-litellm-secrets -o cat | grep -F "
            "'cannot read password source file /etc/secrets/litellm-db.pass'",
            timeout=300,
        )
        gateway.fail(f"test -e {SECRETS}/litellm.env")
        gateway.fail("systemctl is-active podman-litellm.service")

with subtest("the gateways get the datastore's secrets and start, one after the other"):
    archive = datastore.succeed(f"tar -C /etc -czf - {SECRETS.removeprefix('/etc/')} | base64 -w0")
    for name, gateway in GATEWAYS.items():
        gateway.succeed(f"echo {archive} | base64 -d | tar -C /etc -xzf -")
        gateway.succeed("systemctl start podman-litellm.service")
        gateway.wait_until_succeeds("curl -sf http://127.0.0.1:4000/health/readiness", timeout=900)
        assert (
            gateway.succeed(f"grep -m1 '^LITELLM_SALT_KEY=' {SECRETS}/litellm.env").strip()
            == f"LITELLM_SALT_KEY={env_value('LITELLM_SALT_KEY')}"
        ), f"{name} has another salt key than the datastore"
        # No PostgreSQL or Redis of its own.
        gateway.fail("systemctl cat postgresql.service redis-litellm.service")

with subtest("a key created through gateway1 works through gateway2"):
    key = api("gateway1", "POST", "/key/generate", master, {"models": [MODEL, PRICED]})["key"]
    assert "through gateway2" in answer("gateway2", key, "through gateway2")
    info = api("gateway2", "GET", f"/key/info?key={key}", master)["info"]
    assert set(info["models"]) == {MODEL, PRICED}, info

with subtest("an answer cached by gateway1 is served by gateway2 without the provider"):
    text = "cached across the gateways"
    first = answer("gateway1", key, text)
    # gateway1 writes the cache entry after answering: wait until it hits.
    for _ in range(30):
        before = served("gateway1")
        assert answer("gateway1", key, text) == first
        if served("gateway1") == before:
            break
        gateway1.sleep(1)
    else:
        raise AssertionError("gateway1 never answered from the Redis cache")
    counts = (served("gateway1"), served("gateway2"))
    assert answer("gateway2", key, text) == first
    assert (served("gateway1"), served("gateway2")) == counts, "gateway2 asked a provider"

with subtest("a budget spent through both gateways is enforced once"):
    budget_key = api("gateway1", "POST", "/key/generate", master, {"models": [PRICED]})["key"]
    answer("gateway1", budget_key, "spent on gateway one", PRICED)
    # Spend reaches the database in batches; gateway2 reads it from there.
    client.wait_until_succeeds(
        f"curl -4 -sf -H 'Authorization: Bearer {master}' "
        f"'{url('gateway2', '/key/info?key=' + budget_key)}' | jq -e '.info.spend > 0'",
        timeout=300,
    )
    cost = spend("gateway2", master, budget_key)
    # Room for one more request of the same price on either gateway, not two.
    api("gateway2", "POST", "/key/update", master, {"key": budget_key, "max_budget": cost * 1.5})
    answer("gateway2", budget_key, "spent on gateway two", PRICED)
    # Each gateway refuses once the spend of both is in the database and its key cache
    # has expired (LiteLLM keeps a key up to 60 s in memory).
    for name in GATEWAYS:
        for attempt in range(60):
            if refuses(name, budget_key, f"more on {name}, attempt {attempt}"):
                break
            client.sleep(5)
        else:
            raise AssertionError(f"{name} kept accepting a key over its budget")
    total = spend("gateway1", master, budget_key)
    assert total >= 2 * cost * 0.99, f"the spend of both gateways is counted: {total} vs {cost}"

with subtest("only the gateways reach PostgreSQL and Redis, over IPv4; IPv6 is dropped"):
    password = env_value("DATABASE_PASSWORD")
    redis_password = env_value("REDIS_PASSWORD")
    v4, v6 = address(datastore, 4), address(datastore, 6)
    # PostgreSQL and Redis listen on the zone's IPv4 address and on loopback, nowhere else.
    listening = datastore.succeed("ss -Htln '( sport = :5432 or sport = :6379 )'")
    local = [line.split()[3] for line in listening.splitlines()]
    assert all(a.startswith((f"{v4}:", "127.0.0.1:", "[::1]:")) for a in local), local
    for port in (5432, 6379):
        assert connect(gateway2, v4, port) == CONNECTED, f"gateway2 -> {v4}:{port}"
        assert connect(client, v4, port) == DROPPED, f"client -> {v4}:{port}"
        # IPv6 is refused on purpose, for the gateways too: nothing listens there, and the
        # firewall drops it before anything could answer (an open port answers at once).
        assert connect(gateway2, v6, port) == DROPPED, f"gateway2 -> [{v6}]:{port}"
        assert connect(client, v6, port) == DROPPED, f"client -> [{v6}]:{port}"
    out = client.fail(
        f"PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -h {v4} -U litellm -d litellm "
        "-Atc 'select 1' 2>&1"
    )
    assert "timeout expired" in out, out
    status, out = client.execute(
        f"REDISCLI_AUTH={redis_password} timeout 10 redis-cli -h {v4} ping"
    )
    assert status == 124, f"redis-cli from the client ended with {status}: {out}"
    pong = gateway2.succeed(f"REDISCLI_AUTH={redis_password} redis-cli -h {v4} ping")
    assert pong.strip() == "PONG", pong
    assert "NOAUTH" in gateway2.succeed(f"redis-cli -h {v4} ping 2>&1")
    # From a gateway's address: the LiteLLM role with its password, nothing else.
    login = f"PGCONNECT_TIMEOUT=5 psql -h {v4} -d litellm -Atc 'select 1'"
    assert gateway2.succeed(f"PGPASSWORD={password} {login} -U litellm").strip() == "1"
    gateway2.fail(f"PGPASSWORD=wrong {login} -U litellm")
    refused = gateway2.fail(f"PGPASSWORD={password} {login} -U postgres 2>&1")
    assert "no pg_hba.conf entry" in refused, refused

with subtest("with gateway1 gone, gateway2 keeps serving"):
    gateway1.crash()
    assert "still here" in answer("gateway2", key, "still here")
    api("gateway2", "POST", "/key/generate", master, {"models": [MODEL]})

with subtest("the datastore backs up the shared database, Redis and secrets"):
    for name in ("postgresql", "redis", "env"):
        datastore.succeed(f"systemctl start litellm-backup-{name}.service")
    datastore.succeed("ls /var/backup/postgresql/litellm-*.dump /var/backup/redis/redis-*.rdb")
    members = datastore.succeed("tar -tzf /var/backup/litellm-env/litellm-env-*.tar.gz").split()
    assert members == ["litellm.env"], members
    datastore.fail("litellm-restore --postgresql latest")
