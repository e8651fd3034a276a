"""Service keys: the reconciler against a recording stand-in of LiteLLM's key API.

LiteLLM's /key/* endpoints need its database, which the real proxy here cannot have; the
stand-in (fake_litellm_keys.py) answers them as LiteLLM 1.89.3 does. tests/stack checks the
same code against the real proxy where it works without a database (readiness, the master key,
LiteLLM's own error), and the NixOS VM test against the real image with PostgreSQL.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_litellm_keys import MASTER_KEY, FakeKeyServer
from tappaas_litellm.cli import main
from tappaas_litellm.onvm.key_reconciler import (
    ENSURED,
    MANAGED,
    MARKER,
    DesiredState,
    KeySpec,
    KeyStore,
    LiteLLMApi,
    ServiceKeyError,
    check,
    ensure,
    reconcile,
)

TWO = {
    "openwebui": {"models": ["model-a"], "max_budget": 50.0, "budget_duration": "30d"},
    "n8n": {"models": ["model-b"], "rpm_limit": 60, "metadata": {"team": "automation"}},
}


@pytest.fixture
def server():
    with FakeKeyServer() as srv:
        yield srv


@pytest.fixture
def api(server: FakeKeyServer) -> LiteLLMApi:
    return LiteLLMApi(server.url, MASTER_KEY, timeout=10)


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "secrets")


def state(consumers: dict, prune: bool = False) -> DesiredState:
    return DesiredState.model_validate({"consumers": consumers, "prune": prune})


def use(server: FakeKeyServer, key: str, model: str) -> int:
    status, _ = server.api.handle(
        "POST", "/v1/chat/completions", {}, f"Bearer {key}", {"model": model}
    )
    return status


def kinds(actions) -> dict[str, str]:
    return {a.consumer: a.kind for a in actions}


def test_two_consumers_get_working_keys_limited_to_their_models(server, api, store) -> None:
    actions = reconcile(api, store, state(TWO))
    assert kinds(actions) == {"n8n": "created", "openwebui": "created"}
    webui, n8n = store.read("openwebui"), store.read("n8n")
    assert webui and n8n and webui != n8n
    for consumer in ("openwebui", "n8n"):
        path = store.path(consumer)
        assert path.name == f"litellm-svc-{consumer}.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert use(server, webui, "model-a") == 200
    assert use(server, webui, "model-b") == 401
    assert use(server, n8n, "model-b") == 200
    created = server.api.by_alias("litellm-svc-openwebui")
    assert created["max_budget"] == 50.0 and created["budget_duration"] == "30d"
    assert created["metadata"] == {MARKER: MANAGED}
    assert server.api.by_alias("litellm-svc-n8n")["metadata"] == {
        "team": "automation",
        MARKER: MANAGED,
    }
    generate = [c for c in server.api.writes() if c.path == "/key/generate"]
    assert all(c.body["duration"] is None for c in generate), "service keys never expire"


def test_a_second_run_changes_nothing(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    before = {c: store.read(c) for c in TWO}
    server.api.calls.clear()
    actions = reconcile(api, store, state(TWO))
    assert kinds(actions) == {"n8n": "unchanged", "openwebui": "unchanged"}
    assert server.api.writes() == [], "a second run must not write"
    assert {c: store.read(c) for c in TWO} == before


def test_changed_limits_update_the_key_without_regenerating_it(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    key = store.read("openwebui")
    changed = {**TWO, "openwebui": {**TWO["openwebui"], "models": ["model-a", "model-c"]}}
    server.api.calls.clear()
    actions = reconcile(api, store, state(changed))
    assert kinds(actions)["openwebui"] == "updated"
    writes = server.api.writes()
    assert [c.path for c in writes] == ["/key/update"]
    token = server.api.by_alias("litellm-svc-openwebui")["token"]
    assert writes[0].body == {"key": token, "models": ["model-a", "model-c"]}
    assert store.read("openwebui") == key
    assert use(server, key, "model-c") == 200


def test_limits_can_be_lifted_again(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    lifted = {**TWO, "n8n": {"models": ["model-b"]}}
    reconcile(api, store, state(lifted))
    assert server.api.by_alias("litellm-svc-n8n")["rpm_limit"] is None


def test_removed_consumer_keeps_its_key_without_prune(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    n8n = store.read("n8n")
    server.api.calls.clear()
    actions = reconcile(api, store, state({"openwebui": TWO["openwebui"]}))
    assert kinds(actions) == {"openwebui": "unchanged", "n8n": "kept"}
    assert server.api.writes() == []
    assert store.read("n8n") == n8n
    assert use(server, n8n, "model-b") == 200


def test_removed_consumer_loses_its_key_with_prune(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    n8n, webui = store.read("n8n"), store.read("openwebui")
    actions = reconcile(api, store, state({"openwebui": TWO["openwebui"]}, prune=True))
    assert kinds(actions) == {"openwebui": "unchanged", "n8n": "deleted"}
    assert use(server, n8n, "model-b") == 401, "the pruned key must stop working"
    assert not store.path("n8n").exists()
    assert use(server, webui, "model-a") == 200
    server.api.calls.clear()
    reconcile(api, store, state({"openwebui": TWO["openwebui"]}, prune=True))
    assert server.api.writes() == [], "pruning twice changes nothing"


def test_prune_never_deletes_keys_it_did_not_make(server, api, store) -> None:
    by_hand = server.api.add_key("litellm-svc-legacy", models=[])
    ensured = ensure(api, store, state({}), "nextcloud")
    assert ensured.kind == "created"
    other = server.api.add_key("my-litellm-svc-thing")
    reconcile(api, store, state({}, prune=True))
    for key in (by_hand, store.read("nextcloud"), other):
        assert use(server, key, "model-a") == 200
    assert not [c for c in server.api.writes() if c.path == "/key/delete"]


def test_a_key_whose_file_is_lost_is_replaced(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    old = store.read("n8n")
    old_token = server.api.by_alias("litellm-svc-n8n")["token"]
    store.path("n8n").unlink()
    actions = reconcile(api, store, state(TWO))
    assert kinds(actions)["n8n"] == "replaced"
    new = store.read("n8n")
    assert new and new != old
    assert old_token not in server.api.keys, "the key nobody can read any more is revoked"
    assert use(server, old, "model-b") == 401
    assert use(server, new, "model-b") == 200
    assert server.api.by_alias("litellm-svc-n8n")["models"] == ["model-b"], "limits kept"
    assert kinds(reconcile(api, store, state(TWO)))["n8n"] == "unchanged"


def test_check_passes_and_fails_as_tappaas_tests_it(server, api, store) -> None:
    reconcile(api, store, state(TWO))
    stored = [("model-c", True)]
    assert all(passed for passed, _ in check(api, store, "n8n", stored))
    failed = [w for p, w in check(api, store, "n8n", [*stored, ("model-a", False)]) if not p]
    assert failed == [
        "1 model(s) stored in the database without their own api_key (model-a): they fail "
        "once the provider key changes; set api_key"
    ]
    assert check(api, store, "n8n", None)[-1] == (
        None,
        "models stored in the database: no database on this VM",
    )
    store.path("n8n").unlink()
    assert any(
        "is missing; run update-service" in w for p, w in check(api, store, "n8n", []) if not p
    )
    assert any("no key litellm-svc-x" in w for p, w in check(api, store, "x", []) if not p)


def test_ensure_makes_a_key_once_and_declaring_it_adopts_it(server, api, store) -> None:
    assert ensure(api, store, state({}), "openwebui").kind == "created"
    key = store.read("openwebui")
    assert server.api.by_alias("litellm-svc-openwebui")["metadata"] == {MARKER: ENSURED}
    assert ensure(api, store, state({}), "openwebui").kind == "unchanged"
    assert store.read("openwebui") == key
    actions = reconcile(api, store, state({"openwebui": TWO["openwebui"]}))
    assert kinds(actions) == {"openwebui": "updated"}
    assert store.read("openwebui") == key, "adopting never regenerates"
    assert server.api.by_alias("litellm-svc-openwebui")["models"] == ["model-a"]


def test_more_keys_than_one_page(server, api, store) -> None:
    for n in range(130):
        server.api.add_key(f"litellm-svc-x{n}", metadata={MARKER: MANAGED})
    actions = reconcile(api, store, state({}, prune=True))
    assert sum(a.kind == "deleted" for a in actions) == 130
    pages = [c.query["page"] for c in server.api.calls if c.path == "/key/list"]
    assert pages[:2] == ["1", "2"]


def test_wrong_master_key_is_one_clear_error(server, store) -> None:
    api = LiteLLMApi(server.url, "sk-wrong", timeout=10)
    with pytest.raises(ServiceKeyError, match=r"^LiteLLM GET /key/list: HTTP 401: .*invalid key"):
        reconcile(api, store, state(TWO))


def test_waits_while_litellm_starts(server, api) -> None:
    server.api.not_ready = 3
    slept: list[float] = []
    api.wait_ready(attempts=5, interval=2.0, sleep=slept.append)
    assert slept == [2.0, 2.0, 2.0]


def test_gives_up_after_bounded_tries(server, api) -> None:
    server.api.not_ready = 100
    slept: list[float] = []
    with pytest.raises(ServiceKeyError, match=r"not ready after 4 tries 1 s apart; last: .*503"):
        api.wait_ready(attempts=4, interval=1.0, sleep=slept.append)
    assert len(slept) == 3


def test_bad_desired_state_is_rejected() -> None:
    with pytest.raises(ValueError):
        DesiredState.model_validate({"consumers": {"Open WebUI": {}}})
    with pytest.raises(ValueError):
        KeySpec.model_validate({"modles": ["x"]})


# ---------------------------------------------------------------------------------------------
# the command the unit runs
# ---------------------------------------------------------------------------------------------
def run_cli(tmp_path: Path, url: str, consumers: dict, *args: str, prune: bool = False) -> Result:
    state_file = tmp_path / "service-keys.json"
    state_file.write_text(json.dumps({"consumers": consumers, "prune": prune}))
    env_file = tmp_path / "litellm.env"
    env_file.write_text(f"LITELLM_MASTER_KEY={MASTER_KEY}\nLITELLM_SALT_KEY=sk-salt\n")
    options = ["--state", str(state_file), "--secrets", str(env_file), "--url", url]
    options += ["--key-dir", str(tmp_path / "secrets"), "--attempts", "2", "--interval", "0"]
    return CliRunner().invoke(main, ["service-keys", *options, *args])


def test_cli_reconcile_prints_one_line_per_key(server, tmp_path) -> None:
    result = run_cli(tmp_path, server.url, TWO, "reconcile")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"created   litellm-svc-n8n: key written to {tmp_path}/secrets/litellm-svc-n8n.key",
        f"created   litellm-svc-openwebui: key written to "
        f"{tmp_path}/secrets/litellm-svc-openwebui.key",
    ]
    for consumer in TWO:
        key = (tmp_path / "secrets" / f"litellm-svc-{consumer}.key").read_text().strip()
        assert key not in result.output, "keys never reach the journal"
    again = run_cli(tmp_path, server.url, TWO, "reconcile")
    assert again.stdout.splitlines() == [
        "unchanged litellm-svc-n8n",
        "unchanged litellm-svc-openwebui",
    ]


def test_cli_fails_clearly_when_litellm_never_answers(tmp_path) -> None:
    result = run_cli(tmp_path, "http://127.0.0.1:9", TWO, "reconcile")
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: LiteLLM at http://127.0.0.1:9 is not ready after 2 tries")
    assert "Traceback" not in result.output


def test_cli_lost_key_file_gets_a_new_key(server, tmp_path) -> None:
    run_cli(tmp_path, server.url, TWO, "reconcile")
    (tmp_path / "secrets" / "litellm-svc-n8n.key").unlink()
    result = run_cli(tmp_path, server.url, TWO, "reconcile")
    assert result.exit_code == 0, result.output
    assert "replaced  litellm-svc-n8n" in result.stdout
    assert (tmp_path / "secrets" / "litellm-svc-n8n.key").is_file()


def test_cli_test_exits_1_on_a_failed_check(server, tmp_path) -> None:
    run_cli(tmp_path, server.url, TWO, "reconcile")
    assert run_cli(tmp_path, server.url, TWO, "test", "n8n").exit_code == 0
    (tmp_path / "secrets" / "litellm-svc-n8n.key").unlink()
    result = run_cli(tmp_path, server.url, TWO, "test", "n8n")
    assert result.exit_code == 1
    assert "FAIL  " in result.stdout and "litellm-svc-n8n.key is missing" in result.stdout
    assert result.stderr.strip().startswith("error: 1 of ")


def test_cli_bad_state_file_is_one_line(server, tmp_path) -> None:
    result = run_cli(tmp_path, server.url, {"Bad Name": {}}, "reconcile")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Bad Name" in lines[0]


def test_cli_ensure_and_revoke(server, tmp_path) -> None:
    assert run_cli(tmp_path, server.url, {}, "ensure", "nextcloud").exit_code == 0
    key = (tmp_path / "secrets" / "litellm-svc-nextcloud.key").read_text().strip()
    assert use(server, key, "model-a") == 200
    result = run_cli(tmp_path, server.url, {}, "revoke", "nextcloud")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "deleted   litellm-svc-nextcloud: revoked"
    assert use(server, key, "model-a") == 401
    assert not (tmp_path / "secrets" / "litellm-svc-nextcloud.key").exists()


@pytest.mark.parametrize("consumer", ["-rf", "a b", "../etc", "UPPER", ""])
def test_cli_bad_consumer_changes_nothing(server, tmp_path, consumer) -> None:
    result = run_cli(tmp_path, server.url, {}, "ensure", consumer)
    assert result.exit_code == 2
    assert server.api.calls == []


def test_a_key_made_by_tappaas_scripts_is_taken_over(server, api, store) -> None:
    # TAPPaaS's own install-service.sh: same alias, no limits, its key in the same file
    legacy = server.api.add_key("litellm-svc-openwebui")
    store.write("openwebui", legacy)
    actions = reconcile(api, store, state({"openwebui": TWO["openwebui"]}))
    assert kinds(actions) == {"openwebui": "updated"}
    assert store.read("openwebui") == legacy
    assert not [c for c in server.api.writes() if c.path == "/key/generate"]
    assert use(server, legacy, "model-a") == 200
    assert use(server, legacy, "model-b") == 401, "now limited to its declared models"
