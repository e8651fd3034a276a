# Helpers shared by the single-machine VM test scripts (litellm.py, adopt.py,
# upgrade.py): the .nix files put this file in front of the script, so these
# names are the script's own. `machine` comes from the test driver.
import json
import shlex

ENV_FILE = "/etc/secrets/litellm.env"
URL = "http://127.0.0.1:4000"
PROVIDER = "http://127.0.0.1:8099"
# A model added through the API, its provider key stored (encrypted) in the database.
DB_MODEL = "db-model"


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


def add_db_model(master: str) -> None:
    """DB_MODEL, priced, with the provider's key in the database, as the install guide adds
    models; the key must be stored encrypted."""
    api(
        "POST",
        "/model/new",
        master,
        {
            "model_name": DB_MODEL,
            "litellm_params": {
                "model": "openai/test-model",
                "api_base": f"{PROVIDER}/v1",
                "api_key": "fake-provider-key",
                "input_cost_per_token": 0.001,
                "output_cost_per_token": 0.002,
            },
        },
    )
    stored = psql('SELECT litellm_params::text FROM "LiteLLM_ProxyModelTable"')
    assert "fake-provider-key" not in stored, "the provider key is stored encrypted"


def chat_once(key: str, text: str) -> tuple[int, str]:
    body = json.dumps({"model": DB_MODEL, "messages": [{"role": "user", "content": text}]})
    cmd = [
        *("curl", "-s", "-o", "/tmp/chat-body", "-w", "%{http_code}"),
        *("-X", "POST", f"{URL}/chat/completions"),
        *("-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json"),
        *("-d", body),
    ]
    status = int(machine.succeed(shlex.join(cmd)).strip())
    return status, machine.succeed("cat /tmp/chat-body")


def chat_through_provider(key: str, text: str) -> None:
    """A completion of DB_MODEL that really reached the provider with its key (the provider
    answers 401 to any other key, so a key that no longer decrypts fails here)."""
    for _ in range(60):
        served = provider_served()
        status, body = chat_once(key, text)
        if status == 200:
            reply = json.loads(body)
            assert text in reply["choices"][0]["message"]["content"], reply
            assert provider_served() == served + 1, "the answer did not come from the provider"
            return
        machine.sleep(2)
    raise AssertionError(f"{DB_MODEL} does not answer: HTTP {status}: {body}")


def key_that_spent(master: str, text: str) -> tuple[str, float]:
    """A virtual key for DB_MODEL with a budget, one completion through it, and its spend once
    LiteLLM has written it to the database."""
    key = api("POST", "/key/generate", master, {"models": [DB_MODEL], "max_budget": 100.0})["key"]
    chat_through_provider(key, text)
    machine.wait_until_succeeds(
        f"curl -sf -H 'Authorization: Bearer {master}' '{URL}/key/info?key={key}' "
        "| jq -e '.info.spend > 0'",
        timeout=300,
    )
    return key, key_spend(master, key)
