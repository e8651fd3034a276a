"""The VM-only paths (systemd, journal, podman, the proxy with its database) against a
scripted VM: what passes on a healthy VM and what each broken part looks like."""

from __future__ import annotations

import pytest
from fake_vm import MASTER, MODEL, FakeVM
from tappaas_litellm.verify import (
    CHECKS,
    Context,
    Status,
    Target,
    assert_passed,
    check_names,
    run_checks,
    summary_text,
)


def run(name: str, vm: FakeVM, target: Target | None = None):
    return CHECKS[name].function(Context(vm, target or Target()))


def test_healthy_vm_passes_everything():
    vm = FakeVM()
    results = run_checks(vm, Target())
    assert [r.name for r in results] == check_names()
    failing = [r for r in results if r.status is not Status.PASS]
    assert not failing, failing
    by_name = {r.name: r for r in results}
    assert "4 units active" in by_name["services"].reason
    assert "3 timers active" in by_name["backup-timers"].reason
    assert "LiteLLM 1.89.3, db connected, cache redis" in by_name["health"].reason
    assert "temporary virtual key" in by_name["request-flow"].reason
    assert "container cpu=1.5%" in by_name["resources"].reason
    assert "PostgreSQL connections 12/100" in by_name["resources"].reason


def test_every_root_command_asks_for_root():
    vm = FakeVM()
    run_checks(vm, Target())
    roots = {command.split()[0] for command, root in vm.commands if root}
    assert {"cat", "stat", "journalctl", "runuser", "podman"} <= roots
    for command, root in vm.commands:
        if command.startswith(("cat --", "runuser", "journalctl", "podman")):
            assert root, command


def test_request_flow_uses_and_deletes_a_limited_virtual_key():
    vm = FakeVM()
    result = run("request-flow", vm)
    assert result.status is Status.PASS, result
    generated = [r for r in vm.requests if r[1] == "/key/generate"]
    assert len(generated) == 1 and generated[0][2] == MASTER
    assert len(vm.deleted) == 1 and not vm.keys
    virtual = vm.deleted[0]
    chat = [r for r in vm.requests if r[1] == "/chat/completions"]
    assert chat == [("POST", "/chat/completions", virtual)]
    assert ("GET", "/key/info", virtual) in vm.requests
    assert virtual not in result.evidence and MASTER not in result.evidence


def test_request_flow_key_limits():
    vm = FakeVM()
    original = vm._route
    seen = {}

    def spy(method, path, key, body):
        if path == "/key/generate":
            seen.update(body)
        return original(method, path, key, body)

    vm._route = spy
    run("request-flow", vm)
    assert seen["models"] == [MODEL]
    assert seen["max_budget"] <= 0.01
    assert seen["duration"] == "10m"
    assert seen["key_alias"].startswith("tappaas-verify-")


def test_failed_chat_still_deletes_the_key():
    vm = FakeVM()
    vm.chat_status = 502
    result = run("request-flow", vm)
    assert result.status is Status.FAIL
    assert "provider said no" in result.reason and MODEL in result.reason
    assert len(vm.deleted) == 1 and not vm.keys


def test_undeletable_key_is_reported():
    vm = FakeVM()
    vm.delete_status = 500
    result = run("request-flow", vm)
    assert result.status is Status.FAIL
    assert "was not deleted" in result.reason and "tappaas-verify-" in result.reason
    assert "expires after 10 minutes" in result.hint


def test_no_model_configured_skips():
    vm = FakeVM()
    vm.models = []
    result = run("request-flow", vm)
    assert result.status is Status.SKIP and "no model configured" in result.reason
    assert run("models", vm).status is Status.PASS
    assert "no models configured yet" in run("models", vm).reason
    assert not vm.keys and not [r for r in vm.requests if r[1] == "/key/generate"]


def test_failed_unit_names_it_and_shows_its_journal():
    vm = FakeVM()
    vm.units["redis-litellm.service"] = "failed"
    result = run("services", vm)
    assert result.status is Status.FAIL
    assert result.reason == "not active: redis-litellm.service (failed)"
    assert "journalctl -u redis-litellm.service" in result.hint
    assert "a log line" in result.evidence


def test_missing_or_inactive_timer():
    vm = FakeVM()
    vm.timers["redis"]["ActiveState"] = "inactive"
    result = run("backup-timers", vm)
    assert result.status is Status.FAIL
    assert "litellm-backup-redis.timer is inactive" in result.reason
    vm = FakeVM()
    vm.timers["litellm-env"]["Persistent"] = "no"
    assert "not Persistent" in run("backup-timers", vm).reason


def test_failed_backup_service():
    vm = FakeVM()
    vm.services["postgresql"]["Result"] = "exit-code"
    result = run("backup-age", vm)
    assert result.status is Status.FAIL
    assert "last litellm-backup-postgresql.service run: exit-code" in result.reason
    assert "journalctl -u litellm-backup-postgresql" in result.hint


def test_backup_service_ran_but_left_no_file():
    vm = FakeVM()
    vm.backups["redis"] = ""
    result = run("backup-age", vm)
    assert result.status is Status.FAIL
    assert "litellm-backup-redis.service ran but" in result.reason


def test_fresh_vm_without_backups_skips():
    vm = FakeVM()
    vm.backups = {}
    for props in vm.services.values():
        props["ExecMainStartTimestamp"] = ""
    result = run("backup-age", vm)
    assert result.status is Status.SKIP
    assert "no backups yet" in result.reason


def test_backup_folder_owner():
    vm = FakeVM()
    vm.backup_dirs["/var/backup/postgresql"] = "directory|700|root"
    result = run("backup-dirs", vm)
    assert result.status is Status.FAIL
    assert "/var/backup/postgresql owner root, expected postgres" in result.reason


def test_proxy_without_database():
    vm = FakeVM()
    vm.readiness = {"status": "healthy", "db": "disconnected"}
    result = run("health", vm)
    assert result.status is Status.FAIL
    assert "not connected to PostgreSQL" in result.reason
    assert "postgresql" in result.hint


def test_missing_tables_and_unfinished_migrations():
    vm = FakeVM()
    vm.tables = ["LiteLLM_Config"]
    result = run("database-tables", vm)
    assert result.status is Status.FAIL and "LiteLLM_VerificationToken" in result.reason
    assert "migrat" in result.hint
    vm = FakeVM()
    vm.unfinished_migrations = ["20260101_add_things"]
    result = run("database-tables", vm)
    assert result.status is Status.FAIL
    assert "unfinished database migrations: 20260101_add_things" in result.reason


def test_postgresql_stopped():
    vm = FakeVM()
    vm.pg_up = False
    for name in ("postgresql", "database-tables"):
        result = run(name, vm)
        assert result.status is Status.FAIL, result
    assert "does not answer" in run("postgresql", vm).reason


def test_logs_missing_for_a_unit():
    vm = FakeVM()
    vm.journal_lines = 0
    result = run("logs", vm)
    assert result.status is Status.FAIL
    assert "no log lines from podman-litellm since boot" in result.reason


def test_podman_stats_failing():
    vm = FakeVM()
    vm.podman = ""
    result = run("resources", vm)
    assert result.status is Status.FAIL and "podman stats litellm failed" in result.reason


def test_wrong_mode_secrets_file_on_vm():
    vm = FakeVM()
    vm.secrets_stat = "644 root root 400"
    result = run("secrets-file", vm)
    assert result.status is Status.FAIL
    assert "mode 644, expected 600" in result.reason
    assert "chmod 600 /etc/secrets/litellm.env" in result.hint


@pytest.mark.parametrize("name", ["services", "backup-timers", "logs"])
def test_systemd_checks_skip_without_systemd(name):
    vm = FakeVM()
    vm.has_systemd = False
    result = run(name, vm)
    assert result.status is Status.SKIP and "systemd" in result.reason


def test_master_key_out_of_date_on_the_vm():
    vm = FakeVM()
    vm.env["LITELLM_MASTER_KEY"] = "sk-" + "77" * 32
    auth = run("auth", vm)
    assert auth.status is Status.FAIL and "is rejected (HTTP 401" in auth.reason
    for name in ("health", "models", "request-flow"):
        result = run(name, vm)
        assert result.status is Status.FAIL, result
        assert "master key rejected" in result.reason
        assert "restart podman-litellm" in result.hint


def test_assert_passed_for_vm_tests():
    vm = FakeVM()
    results = run_checks(vm, Target())
    assert_passed(results)
    vm.units["podman-litellm.service"] = "failed"
    vm.models = []
    results = run_checks(vm, Target())
    with pytest.raises(AssertionError) as failure:
        assert_passed(results, allow_skip=["request-flow", "model-health"])
    text = str(failure.value)
    assert text.startswith("verify: services (fail)\n")
    assert "FAIL  services" in text and "next: sudo journalctl -u podman-litellm" in text
    assert "SKIP  request-flow" in summary_text(results)
    with pytest.raises(AssertionError, match=r"request-flow \(skip\)"):
        assert_passed([r for r in results if r.name != "services"])
