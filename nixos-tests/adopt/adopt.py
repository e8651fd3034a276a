# Test script of nixos-tests/adopt/default.nix, run by the NixOS test driver
# (`machine`, `subtest` and `start_all` come from the driver; `api`, `env_value`,
# `psql` and the rest from common/gateway.py, which default.nix puts in front).

SWITCH = "/run/current-system/specialisation/module/bin/switch-to-configuration test"


start_all()

with subtest("the install guide's VM: trust, Redis without password, only the master key"):
    for unit in ("generate-litellm-secrets.service", "postgresql.service", "redis-litellm.service"):
        machine.wait_for_unit(unit)
    wait_ready()
    lines = machine.succeed(f"cat {ENV_FILE}").splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["LITELLM_MASTER_KEY"], lines
    master = env_value("LITELLM_MASTER_KEY")
    machine.succeed("psql -h 127.0.0.1 -U litellm -d litellm -w -Atc 'select 1'")
    assert machine.succeed("redis-cli -p 6379 PING").strip() == "PONG"
    assert machine.succeed("redis-cli -p 6379 CONFIG GET appendonly").split()[-1] == "yes"

with subtest("used as the guide says: a model with its key in the database, a virtual key, spend"):
    add_db_model(master)
    key, spend = key_that_spent(master, "before the adoption")
    machine.succeed("redis-cli -p 6379 SET adopt:marker kept")

with subtest("the guide's backups of that state"):
    machine.succeed("systemctl start postgresqlBackup-litellm.service redis-backup.service")
    machine.succeed("test -s /var/backup/postgresql/litellm.sql.gz")
    machine.succeed("ls /var/backup/redis/dump-*.rdb")

with subtest("switch to the module, as a deploy does"):
    # The guide's own secrets unit printed the master key; what comes from here on must not.
    cursor = (
        machine.succeed("journalctl -n0 --show-cursor --no-pager").split("cursor: ")[-1].strip()
    )
    machine.succeed(f"{SWITCH} >&2", timeout=1800)
    for unit in (
        "generate-litellm-secrets.service",
        "postgresql.target",
        "litellm-postgresql-password.service",
        "redis-litellm.service",
    ):
        machine.wait_for_unit(unit)
    wait_ready()

with subtest("secrets: adopted, the master key kept as LiteLLM's encryption key"):
    assert env_value("LITELLM_MASTER_KEY") == master
    assert env_value("LITELLM_SALT_KEY") == master
    for name in ("DATABASE_PASSWORD", "REDIS_PASSWORD", "UI_PASSWORD"):
        assert env_value(name), name
    journal = machine.succeed("journalctl -u generate-litellm-secrets.service --no-pager")
    assert "adopted an existing install" in journal, journal
    since_switch = f"journalctl --no-pager --after-cursor={shlex.quote(cursor)}"
    machine.fail(f"{since_switch} | grep -F {master} >/dev/null")

with subtest("the same master key, the virtual key with its spend, the stored model"):
    names = [m["model_name"] for m in api("GET", "/model/info", master)["data"]]
    assert DB_MODEL in names, names
    assert key_spend(master, key) >= spend > 0
    chat_through_provider(key, "after the adoption")

with subtest("Redis kept its data and now wants the password"):
    # redis-cli's exit status on an error reply differs between versions: read the answer.
    _, refused = machine.execute("redis-cli -p 6379 GET adopt:marker 2>&1")
    assert "NOAUTH" in refused, refused
    redis_auth = f"REDISCLI_AUTH={env_value('REDIS_PASSWORD')}"
    assert machine.succeed(f"{redis_auth} redis-cli -p 6379 GET adopt:marker").strip() == "kept"

with subtest("PostgreSQL: same data directory, no passwordless TCP login any more"):
    assert machine.succeed("cat /var/lib/postgresql/17/PG_VERSION").strip() == "17"
    machine.fail("psql -h 127.0.0.1 -U litellm -d litellm -w -Atc 'select 1'")
    machine.fail("psql -h 127.0.0.1 -U postgres -d litellm -w -Atc 'select 1'")
    password = env_value("DATABASE_PASSWORD")
    machine.succeed(
        f"PGPASSWORD={password} psql -h 127.0.0.1 -U litellm -d litellm -Atc 'select 1'"
    )

with subtest("the guide's backups restore with litellm-restore"):
    later = api("POST", "/key/generate", master, {"models": [DB_MODEL]})["key"]
    machine.succeed(f"{redis_auth} redis-cli -p 6379 SET adopt:after-backup 1")
    rdb = machine.succeed("ls /var/backup/redis/dump-*.rdb | tail -n1").strip()
    output = machine.succeed(
        f"litellm-restore --postgresql /var/backup/postgresql/litellm.sql.gz --redis {rdb} "
        "--confirm 2>&1"
    )
    assert "restored PostgreSQL database litellm from /var/backup/postgresql/" in output, output
    assert f"Redis key(s) from {rdb}" in output, output
    wait_ready()
    chat_through_provider(key, "after restoring the guide's backup")
    code, _body = chat_once(later, "a key made after the backup")
    assert code in (400, 401), f"a key created after the backup still works: HTTP {code}"
    assert (
        machine.succeed(f"{redis_auth} redis-cli -p 6379 EXISTS adopt:after-backup").strip() == "0"
    )
    assert machine.succeed(f"{redis_auth} redis-cli -p 6379 GET adopt:marker").strip() == "kept"
    assert psql("SELECT count(*) FROM pg_database WHERE datname = 'litellm_before_restore'") == "0"
