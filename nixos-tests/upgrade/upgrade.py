# Test script of nixos-tests/upgrade/default.nix, run by the NixOS test driver (`machine`,
# `subtest` and `start_all` come from the driver; `api`, `psql` and the rest from
# common/gateway.py and HELPER, the path of litellm-upgrade-helper.sh, from default.nix).
#
# The upgrades run through tappaas_litellm.admin.upgrade.Upgrade, the engine of
# `tappaas-litellm upgrade`: the same helper calls, restore decision and rollback.
# Only the transport (the driver instead of SSH) and the switch (a specialisation
# made the system profile's next generation, instead of nixos-rebuild) differ.

from tappaas_litellm.admin.upgrade import Action, Upgrade
from tappaas_litellm.admin.upgrade_helper import Remote
from tappaas_litellm.common.errors import StepError
from tappaas_litellm.verify import MachineTransport, Target, assert_passed, run_checks, summary_text

CONFIG_MODEL = "test-model"
PROFILE = "/nix/var/nix/profiles/system"
# HELPER, the path of litellm-upgrade-helper.sh, is assigned in front of this script by
# default.nix (the ignore is for type-checking the script on its own).
with open(HELPER) as handle:  # type: ignore[name-defined]
    HELPER_SOURCE = handle.read()


def generation() -> str:
    return machine.succeed(f"readlink {PROFILE}").strip()


def run_or_step_error(command: str, what: str, timeout: int) -> None:
    status, output = machine.execute(command, timeout=timeout)
    machine.log(output)
    if status != 0:
        raise StepError(f"{what} exited with status {status}")


def switch_to(specialisation: str) -> Action:
    """What nixos-rebuild switch does on the VM: a new generation of the system profile,
    activated (`test`: the test VM has no boot loader to install)."""
    path = SPECIALISATIONS[specialisation]
    command = (
        f"nix-env --profile {PROFILE} --set {path} && {PROFILE}/bin/switch-to-configuration test"
    )

    def switch_and_check_the_hold() -> None:
        run_or_step_error(command, "switch-to-configuration", 1800)
        # The helper's `stop` holds LiteLLM down: the switch started the active targets, which
        # want podman-litellm, and its start condition kept it down (it would have migrated
        # the new, empty PostgreSQL cluster before the restore).
        machine.fail("systemctl is-active --quiet podman-litellm.service")
        condition = machine.succeed("systemctl show -P ConditionResult podman-litellm.service")
        assert condition.strip() == "no", f"ConditionResult={condition.strip()}"
        machine.succeed("test -f /run/litellm-upgrade-hold")
        tables = "SELECT to_regclass('public._prisma_migrations') IS NULL"
        if psql("SHOW server_version_num")[:2] == "18":
            assert psql(tables) == "t", "LiteLLM migrated the new cluster before the restore"

    return Action(command, switch_and_check_the_hold)


def wait_action(seconds: int) -> Action:
    command = f"timeout {seconds} sh -c 'until curl -sf {URL}/health/readiness; do sleep 3; done'"
    return Action(command, lambda: run_or_step_error(command, "waiting for LiteLLM", seconds + 60))


def verify_checks() -> None:
    results = run_checks(MachineTransport(machine), Target(model=CONFIG_MODEL))
    machine.log(summary_text(results))
    try:
        assert_passed(results)
    except AssertionError as exc:
        raise StepError(f"verify failed: {exc}") from None


def upgrade(kind: str, specialisation: str, wait_seconds: int = 900) -> Upgrade:
    return Upgrade(
        name="litellm",
        kind=kind,
        remote=Remote(MachineTransport(machine), HELPER_SOURCE, "machine"),
        switch=switch_to(specialisation),
        wait=wait_action(wait_seconds),
        verify=Action("verify checks through the test driver", verify_checks),
        activation="test",
        say=machine.log,
    )


start_all()

with subtest("a deployed gateway: its first system generation, a model, a key with spend"):
    wait_ready()
    # An installed NixOS has a system profile; the test VM boots without one.
    machine.succeed(f"nix-env --profile {PROFILE} --set /run/current-system")
    assert generation() == "system-1-link", generation()
    SPECIALISATIONS = {
        name: machine.succeed(f"readlink -f /run/current-system/specialisation/{name}").strip()
        for name in ("next", "broken", "postgresql18")
    }
    master = env_value("LITELLM_MASTER_KEY")
    salt = env_value("LITELLM_SALT_KEY")
    add_db_model(master)
    key, spend = key_that_spent(master, "before the upgrades")
    keys_before = int(psql('SELECT count(*) FROM "LiteLLM_VerificationToken"'))


def assert_nothing_lost(when: str) -> None:
    assert env_value("LITELLM_MASTER_KEY") == master, f"master key changed {when}"
    assert env_value("LITELLM_SALT_KEY") == salt, f"salt key changed {when}"
    names = [m["model_name"] for m in api("GET", "/model/info", master)["data"]]
    assert DB_MODEL in names and CONFIG_MODEL in names, names
    assert key_spend(master, key) >= spend > 0
    assert int(psql('SELECT count(*) FROM "LiteLLM_VerificationToken"')) >= keys_before
    chat_through_provider(key, when)


with subtest("a new image: backups, scratch restore, switch, verify; everything kept"):
    assert upgrade("image", "next").run() == 0
    assert generation() == "system-2-link", generation()
    image = machine.succeed("podman inspect litellm --format '{{.ImageName}}'").strip()
    assert image.endswith(":upgrade-next"), image
    assert_nothing_lost("after the upgrade to another image")
    machine.succeed("ls /var/backup/postgresql/litellm-*.dump /var/backup/redis/redis-*.rdb")
    machine.succeed("ls /var/backup/litellm-env/litellm-env-*.tar.gz")
    assert psql("SELECT count(*) FROM pg_database WHERE datname = 'litellm_upgrade_check'") == "0"

with subtest("a broken image: LiteLLM never gets ready, the upgrade rolls back"):
    broken = upgrade("image", "broken", wait_seconds=600)
    try:
        broken.run()
    except StepError as exc:
        machine.log(f"expected failure: {exc.message}")
    else:
        raise AssertionError("the broken image was not detected")
    report = "\n".join(broken.report)
    assert "switched back to generation 2" in report, report
    assert "deleted the failed generation 3" in report, report
    assert "master and salt keys unchanged" in report, report
    assert generation() == "system-2-link", generation()
    wait_ready()
    image = machine.succeed("podman inspect litellm --format '{{.ImageName}}'").strip()
    assert image.endswith(":upgrade-next"), image
    assert_nothing_lost("after the rollback from the broken image")

with subtest("PostgreSQL 17 -> 18: dump, switch, restore; the old data directory stays"):
    assert psql("SHOW server_version_num")[:2] == "17"
    assert upgrade("postgresql", "postgresql18").run() == 0
    assert psql("SHOW server_version_num")[:2] == "18"
    machine.succeed("test -f /var/lib/postgresql/17/PG_VERSION")
    assert machine.succeed("cat /var/lib/postgresql/18/PG_VERSION").strip() == "18"
    machine.fail("test -e /var/lib/postgresql/.litellm-major-upgrade")
    wait_ready()
    assert_nothing_lost("after the PostgreSQL major upgrade")

with subtest("the way back by hand: the previous generation and the kept PostgreSQL 17 data"):
    # The broken image's generation 3 was deleted by its rollback: the one before is 2.
    machine.succeed(
        f"nix-env --profile {PROFILE} --rollback && {PROFILE}/bin/switch-to-configuration test",
        timeout=1800,
    )
    wait_ready()
    assert psql("SHOW server_version_num")[:2] == "17"
    assert_nothing_lost("after going back to PostgreSQL 17 by hand")
