"""service-key and tappaas-service: a consumer's key read from the LiteLLM VM and handed over.

`ssh` is a stand-in (a Python program) for two VMs: it records argv and stdin, splits the one
remote command with shlex as a remote shell would, and carries it out in a folder per host:
`sudo cat`, `sudo rm`, the env-file writer (emulated; the real script runs in
tests/test_service_key_write.py), and `sudo litellm-service-keys ensure|revoke`, which runs the
real `tappaas-litellm service-keys` against the recording stand-in of LiteLLM's key API.
"""

from __future__ import annotations

import json
import shlex
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_litellm_keys import MASTER_KEY, FakeKeyServer
from genhelpers import NESTED_SAMPLE, path_with, stand_in
from tappaas_litellm.admin.service_key_handover import CONSUMER_ENV_FILE, WRITE_SCRIPT
from tappaas_litellm.cli import main

PROVIDER = "tappaas@litellm.srvwork.internal"
CONSUMER = "tappaas@openwebui.srvwork.internal"

SSH = """
import json, os, shlex, subprocess, sys
from pathlib import Path
vms = Path(os.environ["FAKE_VMS"])
args = sys.argv[1:]
stdin = sys.stdin.read() if not sys.stdin.isatty() else ""
with open(vms / "ssh.log", "a") as log:
    log.write(json.dumps({"argv": args, "stdin": stdin}) + "\\n")
if os.environ.get("FAKE_SSH_DOWN"):
    print("ssh: connect to host: Connection refused", file=sys.stderr)
    sys.exit(255)
cut = args.index("--")
dest, command = args[cut + 1], args[cut + 2:]
assert len(command) == 1, f"the remote command must be one string: {command}"
words = shlex.split(command[0])
root = vms / dest.split("@")[-1]
if words[0] != "sudo":
    print("permission denied", file=sys.stderr); sys.exit(1)
words = words[1:]
def local(path): return root / path.lstrip("/")
if words[0] == "cat":
    try:
        sys.stdout.write(local(words[1]).read_text())
    except FileNotFoundError:
        print(f"cat: {words[1]}: No such file or directory", file=sys.stderr); sys.exit(1)
elif words[:3] == ["rm", "-f", "--"]:
    local(words[3]).unlink(missing_ok=True)
elif words[:2] == ["sh", "-c"]:
    assert words[2] == os.environ["WRITE_SCRIPT"] and words[3] == "litellm-svckey", words
    target = local(words[4])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(stdin)
    target.chmod(0o600)
elif words[0] == "litellm-service-keys":
    run = subprocess.run([sys.executable, "-m", "tappaas_litellm", "service-keys",
        "--state", os.environ["FAKE_STATE"], "--secrets", os.environ["FAKE_ENV"],
        "--url", os.environ["FAKE_URL"], "--key-dir", str(local("/etc/secrets")),
        "--attempts", "2", "--interval", "0", *words[1:]])
    sys.exit(run.returncode)
else:
    print(f"sh: {words[0]}: not found", file=sys.stderr); sys.exit(127)
"""


class Vms:
    def __init__(self, root: Path, server: FakeKeyServer) -> None:
        self.root = root
        self.server = server

    def path(self, host: str, file: str) -> Path:
        return self.root / host / file.lstrip("/")

    def calls(self) -> list[dict]:
        log = self.root / "ssh.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def remote_words(self) -> list[list[str]]:
        return [shlex.split(c["argv"][-1]) for c in self.calls()]


@pytest.fixture
def vms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "vms"
    root.mkdir()
    stand_in(tmp_path / "bin", "ssh", SSH)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"consumers": {}}))
    env_file = tmp_path / "litellm.env"
    env_file.write_text(f"LITELLM_MASTER_KEY={MASTER_KEY}\n")
    with FakeKeyServer() as server:
        monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
        monkeypatch.setenv("FAKE_VMS", str(root))
        monkeypatch.setenv("FAKE_STATE", str(state))
        monkeypatch.setenv("FAKE_ENV", str(env_file))
        monkeypatch.setenv("FAKE_URL", server.url)
        monkeypatch.setenv("WRITE_SCRIPT", WRITE_SCRIPT)
        yield Vms(root, server)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(NESTED_SAMPLE, folder / "litellm.json")
    (folder / "openwebui.json").write_text(
        json.dumps({"vmname": "openwebui", "zone0": "srvWork", "dependsOn": ["litellm:models"]})
    )
    monkeypatch.setenv("TAPPAAS_CONFIG_DIR", str(folder))
    return folder


def cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def make_key(vms: Vms, consumer: str = "openwebui") -> str:
    key = vms.server.api.add_key(f"litellm-svc-{consumer}", models=["model-a"])
    path = vms.path("litellm.srvwork.internal", f"/etc/secrets/litellm-svc-{consumer}.key")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    return key


def test_prints_the_consumers_key(vms: Vms, config_dir: Path) -> None:
    key = make_key(vms)
    result = cli("service-key", "litellm", "openwebui")
    assert result.exit_code == 0, result.output
    assert result.stdout == key + "\n"
    (call,) = vms.calls()
    assert call["argv"] == [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "--",
        PROVIDER,
        "sudo cat /etc/secrets/litellm-svc-openwebui.key",
    ]


def test_write_to_puts_the_env_file_on_the_consumer(vms: Vms, config_dir: Path) -> None:
    key = make_key(vms)
    result = cli("service-key", "litellm", "openwebui", "--write-to", CONSUMER)
    assert result.exit_code == 0, result.output
    assert result.stdout == "", "with --write-to the key is not printed"
    written = vms.path("openwebui.srvwork.internal", CONSUMER_ENV_FILE)
    assert written.read_text() == (
        f"LITELLM_API_KEY={key}\nLITELLM_BASE_URL=http://litellm.srvwork.internal:4000/v1\n"
    )
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    calls = vms.calls()
    assert all(key not in " ".join(c["argv"]) for c in calls), "the key is never in argv"
    assert key in calls[-1]["stdin"]
    assert calls[-1]["argv"][4:6] == ["--", CONSUMER]
    assert vms.remote_words()[-1] == [
        "sudo",
        "sh",
        "-c",
        WRITE_SCRIPT,
        "litellm-svckey",
        CONSUMER_ENV_FILE,
    ]


def test_ensure_makes_the_key_once(vms: Vms, config_dir: Path) -> None:
    first = cli("service-key", "litellm", "openwebui", "--ensure", "--write-to", CONSUMER)
    assert first.exit_code == 0, first.output
    key = vms.path("litellm.srvwork.internal", "/etc/secrets/litellm-svc-openwebui.key")
    made = key.read_text().strip()
    assert vms.server.api.by_alias("litellm-svc-openwebui") is not None
    again = cli("service-key", "litellm", "openwebui", "--ensure", "--write-to", CONSUMER)
    assert again.exit_code == 0, again.output
    assert key.read_text().strip() == made, "ensure never replaces a key"
    generated = [c for c in vms.server.api.writes() if c.path == "/key/generate"]
    assert len(generated) == 1
    env = vms.path("openwebui.srvwork.internal", CONSUMER_ENV_FILE).read_text()
    assert f"LITELLM_API_KEY={made}\n" in env


def test_test_checks_key_and_env_file(vms: Vms, tmp_path: Path) -> None:
    host = "127.0.0.1"
    key = vms.server.api.add_key("litellm-svc-n8n", models=["model-b"])
    stored = vms.path(host, "/etc/secrets/litellm-svc-n8n.key")
    stored.parent.mkdir(parents=True)
    stored.write_text(key)
    port = str(vms.server.port)
    common = ["service-key", "litellm", "n8n", "--host", f"tappaas@{host}", "--port", port]
    assert cli(*common, "--write-to", "tappaas@n8n.srvwork.internal").exit_code == 0
    ok = cli(*common, "--test", "--write-to", "tappaas@n8n.srvwork.internal")
    assert ok.exit_code == 0, ok.output
    assert "PASS  the key reaches 1 model(s): model-b" in ok.stderr
    assert "models stored in the database: no database on this VM" in ok.stderr
    # the consumer holds another key: the test fails with one line
    env = vms.path("n8n.srvwork.internal", CONSUMER_ENV_FILE)
    env.write_text("LITELLM_API_KEY=sk-other\n")
    bad = cli(*common, "--test", "--write-to", "tappaas@n8n.srvwork.internal")
    assert bad.exit_code == 1
    assert (
        bad.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: {CONSUMER_ENV_FILE} on tappaas@n8n.srvwork.internal does not hold")
    )
    # a revoked key fails the test
    token = vms.server.api.by_alias("litellm-svc-n8n")["token"]
    vms.server.api.handle("POST", "/key/delete", {}, f"Bearer {MASTER_KEY}", {"keys": [token]})
    gone = cli(*common, "--test")
    assert gone.exit_code == 1
    lines = gone.stderr.strip().splitlines()
    assert "FAIL  no key litellm-svc-n8n in LiteLLM; run install-service" in lines
    assert lines[-1].startswith("error: test the key on the VM failed (tappaas@127.0.0.1): ")


def test_revoke_deletes_key_and_env_file(vms: Vms, config_dir: Path) -> None:
    key = make_key(vms)
    assert cli("service-key", "litellm", "openwebui", "--write-to", CONSUMER).exit_code == 0
    result = cli("service-key", "litellm", "openwebui", "--revoke", "--write-to", CONSUMER)
    assert result.exit_code == 0, result.output
    assert vms.server.api.by_alias("litellm-svc-openwebui") is None
    assert not vms.path("openwebui.srvwork.internal", CONSUMER_ENV_FILE).exists()
    assert not vms.path(
        "litellm.srvwork.internal", "/etc/secrets/litellm-svc-openwebui.key"
    ).exists()
    status, _ = vms.server.api.handle("GET", "/v1/models", {}, f"Bearer {key}", None)
    assert status == 401


@pytest.mark.parametrize(
    "value",
    [
        "-oProxyCommand=touch /tmp/pwned",
        "tappaas@-oProxyCommand=x",
        "tappaas@host;reboot",
        "tappaas@$(reboot)",
        "a b@host",
        "tappaas@host name",
        "",
    ],
)
def test_bad_write_to_stops_before_ssh(vms: Vms, config_dir: Path, value: str) -> None:
    make_key(vms)
    result = cli("service-key", "litellm", "openwebui", "--write-to", value)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --write-to ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert vms.calls() == []


@pytest.mark.parametrize("consumer", ["Open WebUI", "open_webui", "../etc", "x;reboot", "1abc"])
def test_bad_consumer_stops_before_ssh(vms: Vms, config_dir: Path, consumer: str) -> None:
    result = cli("service-key", "litellm", consumer)
    assert result.exit_code == 2
    assert vms.calls() == []


def test_unreachable_vm_is_one_line(vms: Vms, config_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_SSH_DOWN", "1")
    result = cli("service-key", "litellm", "openwebui")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: read the key failed ({PROVIDER}): ssh: connect to host: Connection refused"
    )


def test_missing_key_says_how_to_make_one(vms: Vms, config_dir: Path) -> None:
    result = cli("service-key", "litellm", "openwebui")
    assert result.exit_code == 1
    assert "No such file" in result.stderr


def test_ensure_of_a_lost_key_gives_the_consumer_a_new_one(vms: Vms, config_dir: Path) -> None:
    old = vms.server.api.add_key("litellm-svc-openwebui")  # in LiteLLM, no key file on the VM
    result = cli("service-key", "litellm", "openwebui", "--ensure", "--write-to", CONSUMER)
    assert result.exit_code == 0, result.output
    assert "replaced  litellm-svc-openwebui: " in result.stderr
    env = vms.path("openwebui.srvwork.internal", CONSUMER_ENV_FILE).read_text()
    new = vms.path("litellm.srvwork.internal", "/etc/secrets/litellm-svc-openwebui.key")
    assert f"LITELLM_API_KEY={new.read_text().strip()}\n" in env
    assert old not in env


def test_revoke_with_ensure_is_bad_input(vms: Vms, config_dir: Path) -> None:
    result = cli("service-key", "litellm", "openwebui", "--revoke", "--ensure")
    assert result.exit_code == 2
    assert vms.calls() == []


# ---------------------------------------------------------------------------------------------
# tappaas-service: what TAPPaaS's services/models/*-service.sh run
# ---------------------------------------------------------------------------------------------
def test_tappaas_service_install_and_delete(vms: Vms, config_dir: Path) -> None:
    installed = cli("tappaas-service", "install", "openwebui")
    assert installed.exit_code == 0, installed.output
    env = vms.path("openwebui.srvwork.internal", CONSUMER_ENV_FILE)
    assert env.read_text().startswith("LITELLM_API_KEY=sk-")
    assert vms.server.api.by_alias("litellm-svc-openwebui") is not None
    assert [w[:3] for w in vms.remote_words()] == [
        ["sudo", "litellm-service-keys", "ensure"],
        ["sudo", "cat", "/etc/secrets/litellm-svc-openwebui.key"],
        ["sudo", "sh", "-c"],
    ]
    deleted = cli("tappaas-service", "delete", "openwebui")
    assert deleted.exit_code == 0, deleted.output
    assert not env.exists()
    assert vms.server.api.by_alias("litellm-svc-openwebui") is None


def test_tappaas_service_uses_the_variant_provider(vms: Vms, config_dir: Path) -> None:
    data = json.loads((config_dir / "litellm.json").read_text())
    data["vmname"] = "litellm-test"
    (config_dir / "litellm-test.json").write_text(json.dumps(data))
    (config_dir / "webui-test.json").write_text(
        json.dumps({"vmname": "webui-test", "zone0": "srvWork", "variant": "test"})
    )
    result = cli("tappaas-service", "install", "webui-test", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "provider litellm-test" in result.stderr
    assert (
        "-- tappaas@litellm-test.srvwork.internal 'sudo litellm-service-keys ensure webui-test'"
        in (result.stderr)
    )
    assert "-- tappaas@webui-test.srvwork.internal 'sudo sh -c" in result.stderr
    assert vms.calls() == [], "--dry-run runs nothing"


def test_a_consumers_bad_module_file_fails_with_1_not_fatal_2(vms: Vms, config_dir: Path) -> None:
    # TAPPaaS reads 2 from a test as fatal (it rolls the consumer back): a failure is 1.
    for action in ("install", "test"):
        result = cli("tappaas-service", action, "nextcloud")
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"error: consuming module config not found: {config_dir / 'nextcloud.json'}"
        )
    (config_dir / "nozone.json").write_text(json.dumps({"vmname": "nozone"}))
    assert cli("tappaas-service", "test", "nozone").exit_code == 1
    assert vms.calls() == []


def test_a_capitalised_consumer_vm_name_is_lower_cased(vms: Vms, config_dir: Path) -> None:
    (config_dir / "webui.json").write_text(json.dumps({"vmname": "OpenWebUI", "zone0": "srvWork"}))
    result = cli("tappaas-service", "install", "webui", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "'sudo litellm-service-keys ensure openwebui'" in result.stderr
    assert "-- tappaas@openwebui.srvwork.internal 'sudo sh -c" in result.stderr
