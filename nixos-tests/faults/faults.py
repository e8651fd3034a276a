# Test script of nixos-tests/faults/default.nix, run by the NixOS test driver
# (`machine`, `client`, `subtest` and `start_all` come from the driver; `address`,
# `connect` and the outcomes CONNECTED, REFUSED, DROPPED from common/network.py).
import base64
import json
import shlex
import time
from typing import Any

ENV_FILE = "/etc/secrets/litellm.env"
URL = "http://127.0.0.1:4000"
MODEL = "test-model"
PRICED = "priced-model"
LOAD_LOG = "/tmp/load.log"
# How long LiteLLM may take to serve again after PostgreSQL restarts (systemd
# restarts the container with it) or after the container is killed.
RECOVERY_SECONDS = 300


def env_value(name: str) -> str:
    return machine.succeed(f"grep -m1 '^{name}=' {ENV_FILE} | cut -d= -f2-").strip()


def call(method: str, path: str, key: str, body: object = None) -> tuple[int, str]:
    cmd = ["curl", "-s", "-o", "/tmp/api-body", "-w", "%{http_code}", "-X", method, URL + path]
    cmd += ["-H", f"Authorization: Bearer {key}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    status = int(machine.succeed(shlex.join(cmd)).strip())
    return status, machine.succeed("cat /tmp/api-body")


def api(method: str, path: str, key: str, body: object = None) -> Any:
    status, text = call(method, path, key, body)
    assert status == 200, f"{method} {path}: HTTP {status}: {text}"
    return json.loads(text)


def chat_command(key: str, text: str, model: str = MODEL) -> str:
    """A curl that prints only the HTTP status of one completion."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": text}]})
    return shlex.join(
        [
            *("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30"),
            *("-X", "POST", f"{URL}/chat/completions"),
            *("-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json"),
            *("-d", body),
        ]
    )


# Completions one after the other for $2 seconds with key $1, each HTTP status on its own
# line (000: no answer); every text differs, so none is answered from the cache.
LOAD_SCRIPT = f"""
key="$1"; end=$((SECONDS + $2)); i=0
while [ "$SECONDS" -lt "$end" ]; do
  i=$((i + 1))
  body="$(printf '{{"model": "{MODEL}", "messages": [{{"role": "user", "content": "load %d"}}]}}' "$i")"
  curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 30 -X POST {URL}/chat/completions \\
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$body" || true
done
touch /tmp/load.done
"""


def wait_ready() -> None:
    machine.wait_for_unit("podman-litellm.service")
    machine.wait_until_succeeds(f"curl -sf {URL}/health/readiness", timeout=900)


def start_load(key: str, seconds: int) -> None:
    encoded = base64.b64encode(LOAD_SCRIPT.encode()).decode()
    machine.succeed(f"echo {encoded} | base64 -d > /tmp/load.sh; rm -f {LOAD_LOG} /tmp/load.done")
    machine.succeed(f"(bash /tmp/load.sh {shlex.quote(key)} {seconds} > {LOAD_LOG} 2>&1 &)")


def wait_load_done() -> list[str]:
    machine.wait_for_file("/tmp/load.done", timeout=300)
    return machine.succeed(f"cat {LOAD_LOG}").split()


def psql(sql: str) -> str:
    return machine.succeed(f"sudo -u postgres psql -d litellm -Atc {shlex.quote(sql)}").strip()


def database_state() -> tuple[int, float, int]:
    """Virtual keys, their total spend, spend log entries: what a restart must not lose."""
    keys = int(psql('SELECT count(*) FROM "LiteLLM_VerificationToken"'))
    total = float(psql('SELECT coalesce(sum(spend), 0) FROM "LiteLLM_VerificationToken"'))
    logs = int(psql('SELECT count(*) FROM "LiteLLM_SpendLogs"'))
    return keys, total, logs


def seconds_until_served(key: str, text: str) -> float:
    started = time.monotonic()
    machine.wait_until_succeeds(
        f'test "$({chat_command(key, text)})" = 200', timeout=RECOVERY_SECONDS
    )
    return time.monotonic() - started


start_all()
wait_ready()
master = env_value("LITELLM_MASTER_KEY")

with subtest("from another machine: port 4000 answers, 5432 and 6379 are closed"):
    v4, v6 = address(machine, 4), address(machine, 6)
    client.wait_until_succeeds(f"curl -4 -sf http://{v4}:4000/health/liveliness", timeout=300)
    # LiteLLM listens on 0.0.0.0: over IPv6 port 4000 is open but nothing listens.
    assert connect(client, v6, 4000) == REFUSED
    # PostgreSQL and Redis: the firewall drops both families (an open port would answer).
    for port in (5432, 6379):
        for to in (v4, v6):
            assert connect(client, to, port) == DROPPED, f"client -> {to}:{port}"

with subtest("from another machine: SSH takes keys only"):
    machine.wait_for_unit("sshd.service")
    out = client.fail(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o PreferredAuthentications=password,keyboard-interactive tappaas@machine true 2>&1"
    )
    assert "Permission denied (publickey)." in out, out

with subtest("a virtual key with spend in the database"):
    key = api("POST", "/key/generate", master, {"models": [MODEL, PRICED]})["key"]
    status, body = call(
        "POST",
        "/chat/completions",
        key,
        {"model": PRICED, "messages": [{"role": "user", "content": "spend something"}]},
    )
    assert status == 200, body
    # Spend reaches the database in batches (general_settings.proxy_batch_write_at).
    logs = shlex.quote('SELECT count(*) FROM "LiteLLM_SpendLogs"')
    machine.wait_until_succeeds(
        f'test "$(sudo -u postgres psql -d litellm -Atc {logs})" -gt 0', timeout=300
    )
    before = database_state()
    assert before[0] >= 1 and before[1] > 0 and before[2] >= 1, before

with subtest("PostgreSQL restarted under requests: served again in bounded time, nothing lost"):
    start_load(key, 40)
    machine.sleep(5)
    machine.succeed("systemctl restart postgresql.service")
    took = seconds_until_served(key, "after the PostgreSQL restart")
    machine.log(f"served again {took:.0f} s after PostgreSQL restarted")
    statuses = wait_load_done()
    assert "200" in statuses, statuses
    after = database_state()
    assert after[0] >= before[0] and after[1] >= before[1] and after[2] >= before[2], (
        before,
        after,
    )

with subtest("Redis killed under requests: every request still succeeds"):
    wait_ready()
    start_load(key, 30)
    machine.sleep(5)
    machine.succeed("systemctl kill --signal=SIGKILL redis-litellm.service")
    machine.sleep(8)
    # A crash is not a stop: systemd does not stop LiteLLM with it (Requires= acts on
    # explicit stops only). Start Redis again, unless systemd already restarted it.
    machine.succeed("systemctl start redis-litellm.service")
    machine.wait_for_unit("redis-litellm.service")
    statuses = wait_load_done()
    failed = [s for s in statuses if s != "200"]
    machine.log(f"{len(statuses)} requests while Redis was down, {len(failed)} failed")
    assert statuses and not failed, f"{len(failed)} of {len(statuses)} failed: {set(failed)}"
    assert database_state()[0] >= before[0]

with subtest("the container killed with SIGKILL: systemd brings it back"):
    restarts = int(machine.succeed("systemctl show -P NRestarts podman-litellm.service"))
    machine.succeed("kill -KILL \"$(podman inspect --format '{{.State.Pid}}' litellm)\"")
    machine.wait_until_succeeds(
        f'test "$(systemctl show -P NRestarts podman-litellm.service)" -gt {restarts}',
        timeout=RECOVERY_SECONDS,
    )
    took = seconds_until_served(key, "after the container was killed")
    machine.log(f"served again {took:.0f} s after the restart")

with subtest("the backups' disk full: the backup fails clearly and keeps the earlier ones"):
    machine.succeed("systemctl start litellm-backup-postgresql.service")
    earlier = machine.succeed("ls /var/backup/postgresql").split()
    assert earlier and all(name.endswith(".dump") for name in earlier), earlier
    # Leave 4 KiB (one page of the tmpfs): far less than a dump of LiteLLM's database.
    machine.succeed(
        "avail=$(df --output=avail -k /var/backup | tail -n1); "
        "fallocate -l $(( (avail - 4) * 1024 )) /var/backup/fill"
    )
    # Dumps are named by the second: the next one must not share the earlier one's name.
    machine.sleep(2)
    machine.fail("systemctl start litellm-backup-postgresql.service")
    journal = machine.succeed("journalctl -u litellm-backup-postgresql.service -o cat")
    assert (
        "KiB free in /var/backup/postgresql); no new backup, the earlier ones are kept" in journal
    )
    assert "No space left on device" in journal, journal
    assert machine.succeed("ls -A /var/backup/postgresql").split() == earlier
    machine.succeed("rm /var/backup/fill")
    machine.succeed("systemctl start litellm-backup-postgresql.service")
    assert len(machine.succeed("ls /var/backup/postgresql").split()) == len(earlier) + 1
