"""The shell command `service-key --write-to` runs as root on the consumer VM, run for real.

The command line is taken apart exactly as the remote shell does (shlex), with the path moved
into a temporary folder; the env file arrives on stdin.
"""

from __future__ import annotations

import shlex
import stat
import subprocess
from pathlib import Path

from tappaas_litellm.admin.service_key_handover import CONSUMER_ENV_FILE, WRITE_SCRIPT, consumer_env
from tappaas_litellm.common import shell

KEY = "sk-" + "5" * 32


def write(target: Path, content: str) -> subprocess.CompletedProcess:
    words = shlex.split(shell.join(["sh", "-c", WRITE_SCRIPT, "litellm-svckey", CONSUMER_ENV_FILE]))
    assert words[-1] == CONSUMER_ENV_FILE
    words[-1] = str(target)
    return subprocess.run(
        words, input=content, capture_output=True, text=True, timeout=30, check=False
    )


def test_writes_a_root_only_file_through_a_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "secrets" / "litellm-svckey.env"
    content = consumer_env(KEY, "http://litellm.srvwork.internal:4000/v1")
    result = write(target, content)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == content
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in target.parent.iterdir()) == ["litellm-svckey.env"]


def test_replaces_an_old_file(tmp_path: Path) -> None:
    target = tmp_path / "litellm-svckey.env"
    target.write_text("LITELLM_API_KEY=old\n")
    target.chmod(0o644)
    assert write(target, consumer_env(KEY, "http://h:4000/v1")).returncode == 0
    assert target.read_text().startswith(f"LITELLM_API_KEY={KEY}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    target = folder / "litellm-svckey.env"
    target.mkdir()  # mv onto a directory fails
    (target / "keep").write_text("x")
    result = write(target, consumer_env(KEY, "http://h:4000/v1"))
    assert result.returncode != 0
    assert sorted(p.name for p in folder.iterdir()) == ["litellm-svckey.env"]
    assert (target / "keep").read_text() == "x"
