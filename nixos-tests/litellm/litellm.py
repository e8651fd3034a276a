# Test script of nixos-tests/litellm/default.nix, run by the NixOS test driver
# (`machine`, `subtest` and `start_all` come from the driver; `api`, `env_value`,
# `wait_ready` and the rest from common/gateway.py, which default.nix puts in front).
import re

MODEL = "test-model"


def chat(key: str, text: str, expect: int = 200):
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return api("POST", "/chat/completions", key, body, expect)


start_all()

with subtest("the units of the install guide start, in order"):
    for unit in (
        "generate-litellm-secrets.service",
        "postgresql.service",
        "postgresql.target",
        "litellm-postgresql-password.service",
        "redis-litellm.service",
    ):
        machine.wait_for_unit(unit)
    wait_ready()

with subtest("secrets: generated once, root-only, never in the store"):
    assert machine.succeed(f"stat -c %a:%U {ENV_FILE}").strip() == "600:root"
    master = env_value("LITELLM_MASTER_KEY")
    salt = env_value("LITELLM_SALT_KEY")
    assert re.fullmatch(r"sk-[0-9a-f]{64}", master), "master key format"
    assert salt and salt != master, "the salt key is separate from the master key"
    assert env_value("UI_USERNAME") == "admin"
    # grep reads to the end (no -q): with pipefail, a grep that quits early
    # makes the writer die of SIGPIPE, and the pipeline fails even on a match.
    machine.fail(f"journalctl -b --no-pager | grep -F {master} >/dev/null")
    machine.fail(f"systemctl cat podman-litellm.service | grep -F {master} >/dev/null")
    machine.fail(f"grep -qF {master} /etc/litellm/config.yaml")
    before = machine.succeed(f"sha256sum {ENV_FILE}")
    machine.succeed("systemctl restart generate-litellm-secrets.service")
    assert machine.succeed(f"sha256sum {ENV_FILE}") == before, "a second run changed the file"
    # Units that require the secrets unit (Requires=) are restarted with it:
    # wait for Redis, the role's password and LiteLLM to be back.
    machine.wait_for_unit("redis-litellm.service")
    machine.wait_for_unit("litellm-postgresql-password.service")
    wait_ready()

with subtest("health: liveliness and readiness public, /health needs a key"):
    api("GET", "/health/liveliness")
    api("GET", "/health/readiness")
    api("GET", "/health", expect=401)
    api("GET", "/key/info", key="sk-wrong", expect=401)

with subtest("the container: no new privileges, no capabilities, started offline"):
    pid = machine.succeed("podman inspect --format '{{.State.Pid}}' litellm").strip()
    status = machine.succeed(f"cat /proc/{pid}/status")
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert re.search(rf"^{field}:\s+0+$", status, re.M), status
    # The image's own user: Prisma's CLI and engines sit in its home.
    assert re.search(r"^Uid:\s+0\s", status, re.M), status
    # The test VM has no network: LiteLLM started, migrated and connected without
    # downloading Prisma's engines.
    # (`log` is the driver's logger: another name.)
    journal = machine.succeed("journalctl -u podman-litellm -o cat")
    assert not re.search(
        r"npm install|binaries\.prisma\.sh|Downloading.*(prisma|engine)", journal, re.I
    )
    assert json.loads(machine.succeed(f"curl -sf {URL}/health/readiness"))["db"] == "connected"

with subtest("PostgreSQL: LiteLLM's tables, password on TCP, no trust"):
    tables = machine.succeed("sudo -u postgres psql -d litellm -Atc '\\dt'")
    assert "LiteLLM_VerificationToken" in tables, tables
    password = env_value("DATABASE_PASSWORD")
    machine.succeed(
        f"PGPASSWORD={password} psql -h 127.0.0.1 -U litellm -d litellm -Atc 'select 1'"
    )
    machine.fail("psql -h 127.0.0.1 -U litellm -d litellm -w -Atc 'select 1'")
    machine.fail("PGPASSWORD=wrong psql -h 127.0.0.1 -U postgres -d litellm -Atc 'select 1'")

with subtest("Redis: loopback only, password required"):
    machine.succeed("ss -tln | grep '127.0.0.1:6379' >/dev/null")
    machine.fail("ss -tln | grep '0.0.0.0:6379' >/dev/null")
    assert "NOAUTH" in machine.succeed("redis-cli -p 6379 ping 2>&1")
    redis_password = env_value("REDIS_PASSWORD")
    assert (
        machine.succeed(f"REDISCLI_AUTH={redis_password} redis-cli -p 6379 ping").strip() == "PONG"
    )
    config = machine.succeed(
        f"REDISCLI_AUTH={redis_password} redis-cli -p 6379 config get maxmemory-policy"
    )
    assert "allkeys-lru" in config, config

with subtest("a virtual key, a completion through the provider, the Redis cache"):
    key = api(
        "POST",
        "/key/generate",
        master,
        {"models": [MODEL], "max_budget": 1.0, "duration": "1h"},
    )["key"]
    served = provider_served()
    reply = chat(key, "hello from the VM test")
    assert "hello from the VM test" in reply["choices"][0]["message"]["content"], reply
    assert provider_served() == served + 1
    # LiteLLM writes the cache entry after answering: within a few seconds an
    # identical request must be answered without reaching the provider.
    for _ in range(20):
        served = provider_served()
        again = chat(key, "hello from the VM test")
        if provider_served() == served:
            break
        machine.sleep(1)
    else:
        raise AssertionError("identical requests kept reaching the provider: no Redis cache")
    assert again["choices"][0]["message"]["content"] == reply["choices"][0]["message"]["content"]
    chat("sk-wrong", "hello", expect=401)

with subtest("models added through the API persist across a restart"):
    api(
        "POST",
        "/model/new",
        master,
        {
            "model_name": "db-model",
            "litellm_params": {
                "model": "openai/test-model",
                "api_base": f"{PROVIDER}/v1",
                "api_key": "os.environ/FAKE_PROVIDER_KEY",
            },
        },
    )
    machine.succeed("systemctl restart podman-litellm.service")
    wait_ready()
    names = [m["model_name"] for m in api("GET", "/model/info", master)["data"]]
    assert "db-model" in names, names

with subtest("backups: three persistent timers, private folders and files"):
    timers = machine.succeed("systemctl list-timers --all --no-legend | grep backup")
    assert len(timers.strip().splitlines()) == 3, timers
    for name in ("postgresql", "redis", "env"):
        unit = f"litellm-backup-{name}"
        assert machine.succeed(f"systemctl show -P Persistent {unit}.timer").strip() == "yes"
        machine.succeed(f"systemctl start {unit}.service")
    for folder in (
        "/var/backup",
        "/var/backup/postgresql",
        "/var/backup/redis",
        "/var/backup/litellm-env",
    ):
        assert machine.succeed(f"stat -c %a {folder}").strip() == "700", folder
    machine.succeed("ls /var/backup/postgresql/litellm-*.dump")
    machine.succeed("ls /var/backup/redis/redis-*.rdb")
    machine.succeed("ls /var/backup/litellm-env/litellm-env-*.tar.gz")
    modes = machine.succeed("find /var/backup -type f -printf '%m\\n' | sort -u").split()
    assert modes == ["600"], modes

with subtest("restore: refuses without confirmation, then brings the keys back"):
    machine.fail("litellm-restore --postgresql latest")
    count = (
        "sudo -u postgres psql -d litellm -Atc 'SELECT count(*) FROM \"LiteLLM_VerificationToken\"'"
    )
    assert int(machine.succeed(count)) >= 1
    machine.succeed(
        "sudo -u postgres psql -d litellm -c 'DELETE FROM \"LiteLLM_VerificationToken\"'"
    )
    assert int(machine.succeed(count)) == 0
    machine.succeed("litellm-restore --postgresql latest --redis latest --confirm")
    assert int(machine.succeed(count)) >= 1, "the restore did not bring the virtual key back"
    wait_ready()
    chat(key, "after the restore")

with subtest("verify: the admins' checks pass, through the test driver"):
    from tappaas_litellm.verify import (
        MachineTransport,
        Target,
        assert_passed,
        run_checks,
        summary_text,
    )

    results = run_checks(MachineTransport(machine), Target(model=MODEL))
    machine.log(summary_text(results))
    assert_passed(results)

with subtest("a reboot keeps the secrets and the data"):
    machine.shutdown()
    machine.start()
    wait_ready()
    assert env_value("LITELLM_MASTER_KEY") == master
    chat(key, "after the reboot")
