"""The `verify` command: output, exit status, JSON/JUnit files, host selection."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict

import click
from click.testing import CliRunner
from fake_vm import FakeVM
from tappaas_litellm.verify import CHECKS, Target, check_names
from tappaas_litellm.verify.verify_cli import default_host, host_domain, run_verify, verify
from verify_helpers import free_port

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def local_settings(target: Target, tmp_path) -> str:
    data = asdict(target)
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_list_names_every_check():
    result = CliRunner().invoke(verify, ["litellm", "--list"])
    assert result.exit_code == 0
    for name in check_names():
        assert re.search(rf"^{re.escape(name)}\s", result.output, re.M)
    assert "[Test 7]" in result.output


def test_unknown_check_is_a_usage_error():
    result = CliRunner().invoke(verify, ["litellm", "--only", "nope", "--local"])
    assert result.exit_code == 2
    assert "unknown check(s): nope" in result.output


def test_unknown_setting_is_a_usage_error():
    result = CliRunner().invoke(verify, ["litellm", "--local", "--set", "colour=blue"])
    assert result.exit_code == 2
    assert "unknown setting 'colour'" in result.output


def test_local_run_passes_writes_json_and_junit_and_has_no_colour(target, tmp_path):
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    result = CliRunner().invoke(
        verify,
        [
            "litellm",
            "--local",
            "--settings",
            local_settings(target, tmp_path),
            "--json",
            str(out_json),
            "--junit",
            str(out_xml),
        ],
    )
    assert result.exit_code == 0, result.output
    assert not ANSI.search(result.output), "plain text when not a terminal"
    lines = result.output.splitlines()
    assert lines[0] == "Verifying litellm (this machine)"
    assert re.match(r"PASS  connection\s+commands run on this machine", lines[1])
    assert re.search(r"^SKIP  services\s+no systemd", result.output, re.M)
    assert re.search(r"^PASS  request-flow\s+chat completion from fake-gpt", result.output, re.M)
    skips = 3 if target.database else 4
    assert re.match(
        rf"\d+ passed, 0 failed, {skips} skipped \(18 checks on this machine\)", lines[-1]
    )

    data = json.loads(out_json.read_text())
    assert data["ok"] is True
    assert data["summary"] == {"pass": 18 - skips, "fail": 0, "skip": skips}
    assert [c["name"] for c in data["checks"]] == check_names()
    assert {c["status"] for c in data["checks"]} == {"pass", "skip"}

    suite = ET.parse(out_xml).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "18" and suite.get("failures") == "0"
    assert suite.get("skipped") == str(skips)
    assert len(suite.findall("testcase/skipped")) == skips


def test_only_and_failure_exit_status(target, tmp_path):
    settings = local_settings(target.replace(base_url=f"http://127.0.0.1:{free_port()}"), tmp_path)
    out_xml = tmp_path / "r.xml"
    result = CliRunner().invoke(
        verify,
        [
            "litellm",
            "--local",
            "--settings",
            settings,
            "--only",
            "health,redis",
            "--only",
            "auth",
            "--junit",
            str(out_xml),
        ],
    )
    assert result.exit_code == 1
    names = re.findall(r"^(?:PASS|FAIL|SKIP)  (\S+)", result.output, re.M)
    assert names == ["connection", "health", "redis", "auth"]
    assert re.search(r"^FAIL  health\s+GET /health/liveliness: no answer", result.output, re.M)
    assert "      next: sudo systemctl status podman-litellm" in result.output
    assert "2 passed, 2 failed, 0 skipped" in result.output
    failures = ET.parse(out_xml).getroot().findall("testsuite/testcase/failure")
    assert len(failures) == 2 and "connection refused" in failures[0].get("message")


def test_set_overrides_fields(target, tmp_path):
    result = CliRunner().invoke(
        verify,
        [
            "litellm",
            "--local",
            "--settings",
            local_settings(target, tmp_path),
            "--set",
            f"redis_port={free_port()}",
            "--only",
            "redis",
            "-v",
        ],
    )
    assert result.exit_code == 1
    assert "does not answer" in result.output


def test_verify_over_ssh_from_the_command_line(target, sshd_server, tmp_path):
    options = sshd_server.ssh_options()
    args = [
        "litellm",
        "--host",
        "127.0.0.1",
        "--port",
        str(sshd_server.port),
        "--user",
        sshd_server.user,
        "--identity",
        str(sshd_server.identity),
        "--settings",
        local_settings(target, tmp_path),
        "--only",
        "secrets-file,master-key,health,auth,redis,models,request-flow",
    ]
    for option in options:
        args.append(f"--ssh-option={option}")
    result = CliRunner().invoke(verify, args)
    assert result.exit_code == 0, result.output
    assert f"Verifying litellm (ssh {sshd_server.user}@127.0.0.1:{sshd_server.port})" in (
        result.output
    )
    assert "8 passed, 0 failed" in result.output


def test_run_verify_reports_an_unreachable_host():
    lines: list[str] = []
    code = run_verify("litellm", "127.0.0.1", port=free_port(), echo=lines.append)
    assert code == 1
    text = ANSI.sub("", "\n".join(lines))
    assert "FAIL  connection" in text and "cannot reach ssh tappaas@127.0.0.1" in text
    assert f"0 passed, {len(CHECKS)} failed" in text


def test_run_verify_with_a_given_transport_and_colour():
    lines: list[str] = []
    code = run_verify("litellm", transport=FakeVM(), echo=lines.append)
    assert code == 0
    assert lines[0] == click.style("Verifying litellm (fake vm)", bold=True)
    assert "\x1b[32m" in lines[1], "PASS is green when the caller keeps colour"


def write_host(tmp_path, body: str):
    (tmp_path / "flake.nix").write_text("{ outputs = _: { }; }\n")
    host = tmp_path / "hosts" / "litellm"
    host.mkdir(parents=True)
    (host / "default.nix").write_text(body)
    return tmp_path


def test_default_host_from_networking_domain(tmp_path, monkeypatch):
    flake = write_host(tmp_path, '{ ... }: {\n  networking.domain = "srv.internal";\n}\n')
    assert host_domain("litellm", flake) == "srv.internal"
    assert default_host("litellm", flake) == "litellm.srv.internal"
    monkeypatch.chdir(flake / "hosts")
    assert default_host("litellm") == "litellm.srv.internal", "found from a sub-directory"
    assert default_host("other") == "other", "no host file: the bare name"


def test_default_host_nested_and_commented(tmp_path):
    flake = write_host(
        tmp_path,
        '{ ... }: {\n  # networking.domain = "old.example";\n'
        '  networking = {\n    hostName = "litellm";\n    domain = "lan.example";\n  };\n}\n',
    )
    assert default_host("litellm", flake) == "litellm.lan.example"


def test_default_host_without_domain(tmp_path):
    flake = write_host(tmp_path, '{ ... }: { networking.hostName = "litellm"; }\n')
    assert default_host("litellm", flake) == "litellm"


def test_guide_commands_that_changed_are_shown_with_the_working_one() -> None:
    """Where the install guide's command answers differently here, verify shows what works."""
    from tappaas_litellm.verify import CheckResult, Status
    from tappaas_litellm.verify.guide import GUIDE_COMMANDS
    from tappaas_litellm.verify.report import format_result

    assert set(GUIDE_COMMANDS) <= set(check_names())
    redis = click.unstyle(
        format_result(CheckResult("redis", Status.PASS, "PONG from 127.0.0.1:6379"))
    )
    assert redis.splitlines()[1].strip() == (
        "guide: Test 4 `redis-cli PING` answers NOAUTH (Redis has a password); instead: "
        'REDISCLI_AUTH="$(sudo cat /etc/secrets/litellm-redis.pass)" redis-cli PING'
    )
    dirs = format_result(CheckResult("backup-dirs", Status.FAIL, "missing", "", "hint"))
    assert "instead: sudo ls -lh /var/backup/" in dirs.splitlines()[-1]
    auth = format_result(CheckResult("auth", Status.PASS, "master key accepted"))
    assert "/key/info?key=<virtual key>" in auth
    assert len(format_result(CheckResult("logs", Status.PASS, "ok")).splitlines()) == 1
