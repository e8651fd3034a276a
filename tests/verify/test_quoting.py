"""No setting or argument becomes code: every remote command builder, run by a real bash.

Each builder in `tappaas_litellm.verify.shell_commands` (and the SSH transport's wrapping) gets
arbitrary strings: quotes, `$(...)`, backticks, newlines, leading dashes, globs. The command
runs with `bash -c` where every program it may call is a shell function that records its
arguments, and PATH is an empty folder: the test proves each value arrives as one intact
argument and that nothing else runs (an injected command would be "not found" or an extra
record).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tappaas_litellm.verify import shell_commands
from tappaas_litellm.verify.transport import SSHTransport
from tappaas_litellm.verify.verify_cli import verify

BASH = shutil.which("bash")
PROGRAMS = (
    *("systemctl", "journalctl", "stat", "test", "find", "sort", "tail", "df", "du", "cut"),
    *("wc", "grep", "podman", "cat", "runuser", "timeout", "sudo", "env"),
)

HOSTILE = [
    "'",
    '"',
    "\\",
    "$(touch /tmp/x)",
    "`id`",
    "\n",
    "-n",
    "--",
    " ",
    "*",
    "~",
    "!",
    ";",
    "|",
    "&",
    "$HOME",
    "%s",
    "a'; touch /tmp/pwn; echo '",
]
values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24),
    st.lists(st.sampled_from(HOSTILE), max_size=5).map("".join),
)
# A password is read as one line.
lines = values.filter(lambda text: "\n" not in text)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _prelude(statuses: Mapping[str, int]) -> str:
    # One log per process: the programs of a pipeline run at the same time.
    parts = ['__record() { printf \'%s\\0\' "$#" "$@" >> "$__LOG.$BASHPID"; }']
    for program in PROGRAMS:
        status = statuses.get(program, 0)
        parts.append(f'{program}() {{ __record {program} "$@"; return {status}; }}')
    # The clients also report the password they were given through the environment.
    for program, variable in (("psql", "PGPASSWORD"), ("redis-cli", "REDISCLI_AUTH")):
        report = f'__record {variable} "${{{variable}-<unset>}}"'
        parts.append(f'{program}() {{ __record {program} "$@"; {report}; }}')
    return "\n".join(parts) + "\n"


def run_builder(
    command: str,
    tmp_path: Path,
    *,
    stdin: str | None = None,
    statuses: Mapping[str, int] | None = None,
) -> tuple[list[list[str]], str, str]:
    """Run `command` with bash; the calls it made, its stdout and its stderr."""
    assert BASH, "bash is needed"
    log = tmp_path / "calls"
    for stale in tmp_path.glob("calls.*"):
        stale.unlink()
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    result = subprocess.run(
        [BASH, "-c", _prelude(statuses or {}) + command],
        input=(stdin or "").encode(),
        capture_output=True,
        env={"PATH": str(empty), "__LOG": str(log), "LC_ALL": "C.UTF-8"},
        timeout=20,
        check=False,
    )
    logs = sorted(tmp_path.glob("calls.*"))
    fields = b"".join(path.read_bytes() for path in logs).decode().split("\0")[:-1]
    calls: list[list[str]] = []
    while fields:
        count = int(fields.pop(0))
        calls.append(fields[:count])
        del fields[:count]
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert "not found" not in stderr, stderr
    return calls, stdout, stderr


def same_calls(calls: Sequence[Sequence[str]], expected: Sequence[Sequence[str]]) -> bool:
    """Equal as multisets (the programs of a pipeline start in any order)."""
    return Counter(map(tuple, calls)) == Counter(map(tuple, expected))


@FAST
@given(unit=values, properties=st.lists(values, min_size=1, max_size=3))
def test_systemctl_show(unit, properties, tmp_path_factory):
    calls, _, _ = run_builder(
        shell_commands.systemctl_show(unit, properties), tmp_path_factory.mktemp("q")
    )
    assert calls == [["systemctl", "show", "--no-pager", "-p", ",".join(properties), "--", unit]]


@FAST
@given(units=st.lists(values, max_size=4))
def test_systemctl_is_active(units, tmp_path_factory):
    calls, _, _ = run_builder(
        shell_commands.systemctl_is_active(units), tmp_path_factory.mktemp("q")
    )
    assert calls == [["systemctl", "is-active", "--", *units]]


@FAST
@given(unit=values, output=st.one_of(st.none(), values.filter(bool)))
def test_journal_tail(unit, output, tmp_path_factory):
    calls, _, _ = run_builder(
        shell_commands.journal_tail(unit, 15, output=output), tmp_path_factory.mktemp("q")
    )
    expected = ["journalctl", "--no-pager", "-q", "-u", unit, "-n", "15"]
    assert calls == [expected + (["-o", output] if output else [])]


@FAST
@given(unit=values)
def test_journal_count_and_errors(unit, tmp_path_factory):
    folder = tmp_path_factory.mktemp("q")
    calls, _, _ = run_builder(shell_commands.journal_count(unit), folder)
    assert same_calls(
        calls, [["journalctl", "--no-pager", "-q", "-b", "-u", unit, "-o", "cat"], ["wc", "-l"]]
    )
    calls, _, _ = run_builder(shell_commands.journal_errors(unit), folder)
    journal = ["journalctl", "--no-pager", "-q", "-u", unit, "--since", "-1h", "-o", "cat"]
    grep = ["grep", "-c", "-i", "-E", '"level": ?"(ERROR|CRITICAL)"|Traceback']
    assert same_calls(calls, [journal, grep])


@FAST
@given(path=values)
def test_file_commands(path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("q")
    assert run_builder(shell_commands.cat_file(path), folder)[0] == [["cat", "--", path]]
    assert run_builder(shell_commands.stat_file(path), folder)[0] == [
        ["stat", "-c", "%a %U %G %s", "--", path]
    ]
    assert run_builder(shell_commands.directory_exists(path), folder)[0] == [["test", "-d", path]]
    assert same_calls(
        run_builder(shell_commands.disk_free(path), folder)[0],
        [["df", "-Pk", "--", path], ["tail", "-n", "1"]],
    )
    assert same_calls(
        run_builder(shell_commands.disk_usage(path), folder)[0],
        [["du", "-sk", "--", path], ["cut", "-f1"]],
    )


@FAST
@given(paths=st.lists(values, min_size=1, max_size=3))
def test_backup_dirs_reports_missing_paths_intact(paths, tmp_path_factory):
    calls, stdout, _ = run_builder(
        shell_commands.backup_dirs(paths), tmp_path_factory.mktemp("q"), statuses={"stat": 1}
    )
    assert calls == [["stat", "-c", "%F|%a|%U|%n", "--", path] for path in paths]
    assert stdout == "".join(f"missing|||{path}\n" for path in paths)


@FAST
@given(folder=values, pattern=values)
def test_newest_file(folder, pattern, tmp_path_factory):
    where = tmp_path_factory.mktemp("q")
    calls, _, _ = run_builder(shell_commands.newest_file(folder, pattern), where)
    find = ["find", folder, "-maxdepth", "1", "-type", "f", "-name", pattern]
    expected = [["test", "-d", folder], [*find, "-printf", "%T@ %s %f\\n"]]
    assert same_calls(calls, [*expected, ["sort", "-n"], ["tail", "-n", "1"]])
    calls, _, stderr = run_builder(
        shell_commands.newest_file(folder, pattern), where, statuses={"test": 1}
    )
    assert calls == [["test", "-d", folder]] and stderr == "missing folder\n"


@FAST
@given(template=values, container=values)
def test_podman_stats(template, container, tmp_path_factory):
    calls, _, _ = run_builder(
        shell_commands.podman_stats(template, container), tmp_path_factory.mktemp("q")
    )
    assert calls == [["podman", "stats", "--no-stream", "--format", template, "--", container]]


@FAST
@given(sql=values, database=values, host=values, user=values, password=lines)
def test_psql(sql, database, host, user, password, tmp_path_factory):
    folder = tmp_path_factory.mktemp("q")
    base = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "|", "-d", database]
    base += ["-c", sql]
    local, _, _ = run_builder(shell_commands.psql(sql, database), folder)
    assert local == [["runuser", "-u", "postgres", "--", *base]]
    tcp = [*base, "-h", host, "-p", "5433", "-U", user]
    calls, _, _ = run_builder(
        shell_commands.psql(sql, database, host=host, port=5433, user=user, password_on_stdin=True),
        folder,
        stdin=password + "\n",
    )
    assert calls == [tcp, ["PGPASSWORD", password]]


@FAST
@given(host=values, args=st.lists(values, max_size=3), password=lines)
def test_redis_cli(host, args, password, tmp_path_factory):
    calls, _, _ = run_builder(
        shell_commands.redis_cli(host, 6380, args),
        tmp_path_factory.mktemp("q"),
        stdin=password + "\n",
    )
    cli = ["redis-cli", "--no-auth-warning", "-h", host, "-p", "6380", *args]
    assert calls == [cli, ["REDISCLI_AUTH", password or "<unset>"]]


@FAST
@given(command=values, root=st.booleans())
def test_ssh_transport_hands_the_command_over_intact(command, root, tmp_path_factory):
    """What ssh gives the VM's login shell unwraps to exactly the command, nothing more."""
    transport = SSHTransport("vm.example", user="tappaas")
    argv = transport.argv("placeholder")
    assert argv[-3:] == ["--", "vm.example", "placeholder"]
    seen: list[list[str]] = []

    def capture(argv: Sequence[str], timeout: float, stdin: str | None):
        seen.append(list(argv))
        from tappaas_litellm.verify.transport import CommandResult

        return CommandResult(0, "", "")

    mp = pytest.MonkeyPatch()
    mp.setattr("tappaas_litellm.verify.transport._run_subprocess", capture)
    try:
        transport.run(command, timeout=30, root=root)
    finally:
        mp.undo()
    remote = seen[0][-1]
    calls, _, _ = run_builder(remote, tmp_path_factory.mktemp("q"))
    inner = ["timeout", "-k", "5", "30", "bash", "-c", "set -o pipefail\n" + command]
    if root:
        (call,) = calls
        assert call[:3] == ["sudo", "-n", "env"] and call[3].startswith("PATH=")
        assert call[4:] == inner
    else:
        assert calls == [inner]


def test_a_hostile_backup_root_runs_nothing(tmp_path: Path) -> None:
    """`verify --set backup_root=...` once put the value inside single quotes unescaped."""
    marker = tmp_path / "pwned"
    root = f"/nonexistent'; touch {marker}; echo '"
    result = CliRunner().invoke(
        verify, ["litellm", "--local", "--only", "backup-dirs", "--set", f"backup_root={root}"]
    )
    assert not marker.exists()
    assert f"{root} missing" in result.output
    assert result.exit_code == 1


@pytest.mark.parametrize("setting", ["backup_root=relative/path", "secrets_file=-x"])
def test_paths_in_settings_must_be_absolute(setting: str) -> None:
    result = CliRunner().invoke(verify, ["litellm", "--local", "--set", setting])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --set/--settings: ")
    assert "must be an absolute path" in lines[0]
