# Helpers shared by the single-machine VM test scripts (litellm.py, adopt.py,
# upgrade.py): the .nix files put this file in front of the script, so these
# names are the script's own. `machine` comes from the test driver.
import json
import shlex

ENV_FILE = "/etc/secrets/litellm.env"
URL = "http://127.0.0.1:4000"
PROVIDER = "http://127.0.0.1:8099"


def env_value(name: str) -> str:
    return machine.succeed(f"grep -m1 '^{name}=' {ENV_FILE} | cut -d= -f2-").strip()


def api(method: str, path: str, key: str | None = None, body: object = None, expect: int = 200):
    cmd = ["curl", "-s", "-o", "/tmp/api-body", "-w", "%{http_code}", "-X", method, URL + path]
    if key is not None:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    status = machine.succeed(shlex.join(cmd)).strip()
    text = machine.succeed("cat /tmp/api-body")
    assert status == str(expect), f"{method} {path}: HTTP {status}, expected {expect}: {text}"
    return json.loads(text) if text.strip() else None


def provider_served() -> int:
    return json.loads(machine.succeed(f"curl -sf {PROVIDER}/_control"))["completions_served"]


def wait_ready() -> None:
    machine.wait_for_unit("podman-litellm.service")
    # The unit is active once the container runs; LiteLLM answers later.
    machine.wait_until_succeeds(f"curl -sf {URL}/health/readiness", timeout=900)


def key_spend(master: str, key: str) -> float:
    return float(api("GET", f"/key/info?key={key}", master)["info"]["spend"])


def psql(sql: str) -> str:
    return machine.succeed(f"sudo -u postgres psql -d litellm -Atc {shlex.quote(sql)}").strip()
