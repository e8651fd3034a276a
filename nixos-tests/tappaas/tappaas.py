# Test script of nixos-tests/tappaas/default.nix, run by the NixOS test driver
# (`machine`, `subtest` and `start_all` come from the driver).
import json
import re
import shlex

ENV_FILE = "/etc/secrets/litellm.env"
URL = "http://127.0.0.1:4000"
CONSUMERS = {"openwebui": "test-model", "n8n": "test-model-b"}


def env_value(name: str) -> str:
    return machine.succeed(f"grep -m1 '^{name}=' {ENV_FILE} | cut -d= -f2-").strip()


def status(method: str, path: str, key: str | None = None, body: object = None) -> tuple[int, str]:
    cmd = ["curl", "-s", "-o", "/tmp/api-body", "-w", "%{http_code}", "-X", method, URL + path]
    if key is not None:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    code = int(machine.succeed(shlex.join(cmd)).strip())
    return code, machine.succeed("cat /tmp/api-body")


_sent = [0]


def chat(key: str, model: str) -> int:
    # A new text each time: the Redis cache must not answer instead of the provider.
    _sent[0] += 1
    body = {"model": model, "messages": [{"role": "user", "content": f"hello {model} {_sent[0]}"}]}
    return status("POST", "/chat/completions", key, body)[0]


def refused(key: str, model: str) -> None:
    """Until three requests in a row are refused: each worker may have cached the key."""
    in_a_row = 0
    for _ in range(90):
        in_a_row = in_a_row + 1 if chat(key, model) in (401, 403) else 0
        if in_a_row == 3:
            return
        machine.sleep(2)
    raise AssertionError(f"a revoked key still reaches {model}")


def key_file(consumer: str) -> str:
    return f"/etc/secrets/litellm-svc-{consumer}.key"


def read_key(consumer: str) -> str:
    return machine.succeed(f"cat {key_file(consumer)}").strip()


def key_info(master: str, consumer: str) -> dict:
    code, text = status(
        "GET", f"/key/list?key_alias=litellm-svc-{consumer}&return_full_object=true", master
    )
    assert code == 200, text
    keys = [k for k in json.loads(text)["keys"] if k["key_alias"] == f"litellm-svc-{consumer}"]
    return keys[0] if keys else {}


start_all()

with subtest("LiteLLM starts, then the service keys are reconciled"):
    machine.wait_for_unit("podman-litellm.service")
    machine.wait_until_succeeds(f"curl -sf {URL}/health/readiness", timeout=900)
    machine.wait_for_unit("litellm-service-keys.service", timeout=900)
    master = env_value("LITELLM_MASTER_KEY")

with subtest("two consumers, two working keys, each limited to its model"):
    keys = {}
    for consumer, model in CONSUMERS.items():
        assert machine.succeed(f"stat -c %a:%U {key_file(consumer)}").strip() == "600:root"
        keys[consumer] = read_key(consumer)
        assert keys[consumer].startswith("sk-"), consumer
        assert chat(keys[consumer], model) == 200, consumer
        other = next(m for c, m in CONSUMERS.items() if c != consumer)
        assert chat(keys[consumer], other) in (401, 403), f"{consumer} reached {other}"
    assert keys["openwebui"] != keys["n8n"]
    info = key_info(master, "openwebui")
    assert info["max_budget"] == 5 and info["budget_duration"] == "30d", info
    assert key_info(master, "n8n")["rpm_limit"] == 600
    assert key_info(master, "n8n")["metadata"]["team"] == "automation"
    # The journal names the keys, never their values.
    journal = machine.succeed("journalctl -u litellm-service-keys --no-pager")
    assert "created   litellm-svc-n8n" in journal, journal
    for key in keys.values():
        machine.fail(f"journalctl -b --no-pager | grep -F {key} >/dev/null")

with subtest("a second run changes nothing"):
    before = machine.succeed("sha256sum /etc/secrets/litellm-svc-*.key")
    machine.succeed("systemctl restart litellm-service-keys.service")
    assert machine.succeed("sha256sum /etc/secrets/litellm-svc-*.key") == before
    journal = machine.succeed("journalctl -u litellm-service-keys --no-pager -o cat")
    for consumer in CONSUMERS:
        assert journal.count(f"created   litellm-svc-{consumer}") == 1, journal
        assert journal.count(f"unchanged litellm-svc-{consumer}") == 1, journal

with subtest("the on-VM command makes an undeclared key once and revokes it"):
    machine.succeed("litellm-service-keys ensure nextcloud")
    nextcloud = read_key("nextcloud")
    assert chat(nextcloud, "test-model") == 200
    machine.succeed("litellm-service-keys ensure nextcloud")
    assert read_key("nextcloud") == nextcloud, "ensure never replaces a key"
    machine.succeed("litellm-service-keys revoke nextcloud")
    machine.fail(f"test -e {key_file('nextcloud')}")
    refused(nextcloud, "test-model")

with subtest("test-service's check on the VM, and a lost key file gets a new key"):
    report = machine.succeed("litellm-service-keys test openwebui")
    assert "FAIL" not in report and "SKIP" not in report, report
    assert "stored in the database have an api_key" in report, report
    old = read_key("openwebui")
    machine.succeed(f"rm {key_file('openwebui')}")
    machine.fail("litellm-service-keys test openwebui")
    machine.succeed("litellm-service-keys ensure openwebui")
    assert read_key("openwebui") != old
    refused(old, "test-model")
    machine.succeed("litellm-service-keys test openwebui")
    keys["openwebui"] = read_key("openwebui")

with subtest("n8n removed with prune: its key stops working, openwebui's does not"):
    machine.succeed("/run/booted-system/specialisation/pruned/bin/switch-to-configuration test >&2")
    machine.wait_for_unit("litellm-service-keys.service")
    machine.wait_until_succeeds(
        "journalctl -u litellm-service-keys --no-pager | grep -F 'deleted   litellm-svc-n8n'",
        timeout=300,
    )
    machine.fail(f"test -e {key_file('n8n')}")
    refused(keys["n8n"], "test-model-b")
    assert chat(keys["openwebui"], "test-model") == 200
    assert read_key("openwebui") == keys["openwebui"]

with subtest("/metrics refuses without a key and counts completions"):
    code, text = status("GET", "/metrics/")
    assert code == 401, f"/metrics without a key: HTTP {code}: {text[:300]}"
    for _ in range(3):
        assert chat(keys["openwebui"], "test-model") == 200

    def total() -> float:
        code, text = status("GET", "/metrics/", master)
        assert code == 200, text[:300]
        found = re.findall(
            r"^litellm_proxy_total_requests_metric_total\{[^}]*\} (\S+)$", text, re.M
        )
        return sum(float(v) for v in found)

    machine.wait_until_succeeds(
        f"curl -sf -H 'Authorization: Bearer {master}' {URL}/metrics/ "
        "| grep -q '^litellm_proxy_total_requests_metric_total'",
        timeout=120,
    )
    assert total() >= 3

with subtest("the PostgreSQL and Redis exporters answer"):
    machine.wait_for_unit("prometheus-postgres-exporter.service")
    machine.wait_for_unit("prometheus-redis-exporter.service")
    machine.wait_until_succeeds(
        "curl -sf http://127.0.0.1:9187/metrics | grep -q '^pg_up 1'", timeout=120
    )
    machine.wait_until_succeeds(
        "curl -sf http://127.0.0.1:9121/metrics | grep -q '^redis_up 1'", timeout=120
    )
    # Loopback only by default, and the firewall stays closed.
    machine.fail("ss -tln | grep -E '0.0.0.0:(9187|9121)' >/dev/null")
    machine.fail("iptables -S 2>/dev/null | grep -E -- '--dport (9187|9121) ' >/dev/null")
    # The Redis exporter logs in as its own ACL user, never with the Redis password, and
    # cannot read a key even when a scrape asks for every key's value.
    machine.succeed(
        'REDISCLI_AUTH="$(cat /etc/secrets/litellm-redis.pass)" redis-cli SET probe:key v4lue'
    )
    machine.succeed("grep -qx 'REDIS_USER=litellm-exporter' /run/litellm-redis-exporter/env")
    machine.fail(
        'grep -qxF "REDIS_PASSWORD=$(cat /etc/secrets/litellm-redis.pass)" /run/litellm-redis-exporter/env'
    )
    scraped = machine.succeed(
        "curl -sf 'http://127.0.0.1:9121/scrape?target=redis://127.0.0.1:6379&check-keys=*'"
    )
    assert "v4lue" not in scraped and re.search(r"^redis_up 1", scraped, re.M), scraped[-2000:]

with subtest("the journal goes to Loki through Alloy, labelled host and unit, keys masked"):
    machine.wait_for_unit("alloy.service")
    machine.wait_until_succeeds(
        "curl -sf http://127.0.0.1:3100/ | grep -q '\"count\": [1-9]'", timeout=180
    )
    unit = machine.succeed("systemctl cat alloy.service")
    assert "run /etc/alloy" in unit and "--disable-reporting" in unit, unit
    config = machine.succeed("cat /etc/alloy/config.alloy")
    assert 'host = "machine"' in config, config
    assert 'target_label  = "unit"' in config and "__journal__systemd_unit" in config, config
    assert 'expression = "(sk-[A-Za-z0-9_-]{8,})"' in config, config
    # Alloy's own metrics (on loopback): entries reached Loki.
    machine.wait_until_succeeds(
        "curl -sf http://127.0.0.1:12345/metrics"
        " | grep -E '^loki_write_sent_entries_total(\\{[^}]*\\})? [1-9]'",
        timeout=120,
    )
