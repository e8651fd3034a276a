"""Service keys with the real LiteLLM proxy, as far as it works here without a database.

The module's `litellm-service-keys` script (the very file NixOS wraps) runs `tappaas-litellm
service-keys` against the real proxy: it waits for readiness, authenticates with the master key
from the secrets file and reports LiteLLM's own answer to /key/list, which without a database is
an error, as one line. The calls that need the database (/key/generate, /key/update,
/key/delete) are checked here in another way: every request body the reconciler sends to the
recording stand-in of the key API is validated with LiteLLM's own request models from the
installed proxy, so a field LiteLLM does not know fails here. The NixOS VM test runs it all
against the real image with PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stacklib import REPO_ROOT, SCRIPTS_DIR, LiteLLMProxy, clean_environ

sys.path.insert(0, str(REPO_ROOT / "generator" / "tests"))

from fake_litellm_keys import MASTER_KEY, FakeKeyServer
from tappaas_litellm.onvm.key_reconciler import (
    DesiredState,
    KeyStore,
    LiteLLMApi,
    ensure,
    reconcile,
    revoke,
)

SCRIPT = SCRIPTS_DIR / "litellm-service-keys.sh"
TOOL_BIN = REPO_ROOT / ".venv" / "bin"
LITELLM_PYTHON = REPO_ROOT / ".venv-litellm" / "bin" / "python"


def run_script(tmp_path: Path, url: str, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"consumers": {"openwebui": {"models": ["fake-gpt"]}}}))
    env = clean_environ()
    env["PATH"] = f"{TOOL_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(
        LITELLM_SERVICE_KEYS_STATE=str(state),
        LITELLM_ENV_FILE=str(env_file),
        LITELLM_URL=url,
        LITELLM_SERVICE_KEYS_DIR=str(tmp_path / "secrets"),
        LITELLM_DATABASE="litellm",
    )
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_reconcile_reaches_the_real_proxy_and_reports_its_answer(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    result = run_script(tmp_path, litellm_proxy.url, litellm_proxy.env_file, "reconcile")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # Past readiness and past the master key: LiteLLM itself says it has no database.
    assert lines[0].startswith("error: LiteLLM GET /key/list: HTTP "), lines[0]
    assert "database not connected" in lines[0].lower(), lines[0]
    assert litellm_proxy.master_key not in result.stderr + result.stdout
    assert not (tmp_path / "secrets").exists(), "nothing is written when LiteLLM refuses"


def test_missing_master_key_stops_before_any_call(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("LITELLM_SALT_KEY=sk-x\n")
    result = run_script(tmp_path, litellm_proxy.url, env_file, "reconcile")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {env_file} has no LITELLM_MASTER_KEY"


def test_script_needs_its_paths(tmp_path: Path) -> None:
    env = clean_environ()
    env["PATH"] = f"{TOOL_BIN}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-u", str(SCRIPT), "reconcile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "LITELLM_SERVICE_KEYS_STATE" in result.stderr


VALIDATE = """
import json, sys
from litellm.proxy._types import GenerateKeyRequest, KeyRequest, UpdateKeyRequest
models = {"/key/generate": GenerateKeyRequest, "/key/update": UpdateKeyRequest,
          "/key/delete": KeyRequest}
for path, body in json.load(sys.stdin):
    model = models[path]
    unknown = set(body) - set(model.model_fields)
    assert not unknown, f"{path}: LiteLLM does not know {sorted(unknown)}"
    parsed = model.model_validate(body)
    for name, value in body.items():
        assert getattr(parsed, name) == value, f"{path}: {name} became {getattr(parsed, name)!r}"
print("ok", len(models))
"""


def test_every_request_body_is_one_litellm_accepts(tmp_path: Path) -> None:
    with FakeKeyServer() as server:
        api = LiteLLMApi(server.url, MASTER_KEY, timeout=10)
        store = KeyStore(tmp_path / "secrets")
        full = {
            "models": ["a"],
            "max_budget": 12.5,
            "budget_duration": "30d",
            "rpm_limit": 60,
            "tpm_limit": 1000,
            "metadata": {"team": "x"},
        }
        reconcile(api, store, DesiredState.model_validate({"consumers": {"one": full}}))
        changed = {**full, "models": ["a", "b"], "max_budget": None}
        reconcile(api, store, DesiredState.model_validate({"consumers": {"one": changed}}))
        ensure(api, store, DesiredState(), "two")
        revoke(api, store, DesiredState(), "two")
        reconcile(api, store, DesiredState.model_validate({"consumers": {}, "prune": True}))
        bodies = [(c.path, c.body) for c in server.api.writes()]
    assert [p for p, _ in bodies] == [
        "/key/generate",
        "/key/update",
        "/key/generate",
        "/key/delete",
        "/key/delete",
    ]
    result = subprocess.run(
        [str(LITELLM_PYTHON), "-c", VALIDATE],
        input=json.dumps(bodies),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
