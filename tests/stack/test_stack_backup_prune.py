"""litellm-backup-prune: retention, only for old backup files and only inside the backup root."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from stacklib import BackupDirs, Scripts, make_backup_dirs

DAY = 86400


def touch(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(path.name)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def prune(scripts: Scripts, dirs: BackupDirs, *args: str):
    return scripts.run("litellm-backup-prune", *args, env=dirs.env())


@pytest.fixture
def dirs(tmp_path: Path) -> BackupDirs:
    return make_backup_dirs(tmp_path / "backup")


def test_removes_only_old_backup_files(scripts, dirs, tmp_path):
    d = dirs.postgresql
    old = [
        touch(d / "litellm-20240101T020000Z.dump", 60),
        touch(d / "litellm-20240201T020000Z.dump", 31),
        touch(d / ".litellm-abc123.partial", 40),  # left over by an interrupted backup
    ]
    keep = [
        touch(d / "litellm-20240301T020000Z.dump", 29),
        touch(d / "litellm-20240302T020000Z.dump", 1),
        touch(d / ".litellm-def456.partial", 0),  # a backup running right now
        touch(d / "notes.txt", 90),
        touch(d / "litellm-manual.dump", 90),
        touch(d / "litellm-20240101T020000Z.dump.bak", 90),
        touch(d / "sub" / "litellm-20230101T020000Z.dump", 90),
    ]
    outside = touch(tmp_path / "elsewhere" / "litellm-20230101T020000Z.dump", 90)
    (d / "litellm-20220101T020000Z.dump").symlink_to(outside)

    result = prune(scripts, dirs, str(d), "30")
    assert result.returncode == 0, result.stderr
    assert "removed 3 backup file(s)" in result.stdout
    for path in old:
        assert not path.exists(), path
    for path in keep:
        assert path.exists(), path
    assert outside.exists()
    assert (d / "litellm-20220101T020000Z.dump").is_symlink()


@pytest.mark.parametrize(
    ("folder", "name"),
    [("redis", "redis-{}.rdb"), ("litellm_env", "litellm-env-{}.tar.gz")],
)
def test_each_backup_kind(scripts, dirs, folder, name):
    d: Path = getattr(dirs, folder)
    old = touch(d / name.format("20240101T023000Z"), 45)
    new = touch(d / name.format("20240301T023000Z"), 2)
    result = prune(scripts, dirs, str(d), "30")
    assert result.returncode == 0, result.stderr
    assert not old.exists()
    assert new.exists()


def test_newest_backup_is_kept_whatever_its_age(scripts, dirs):
    d = dirs.redis
    older = touch(d / "redis-20240101T023000Z.rdb", 90)
    newest = touch(d / "redis-20240102T023000Z.rdb", 89)
    result = prune(scripts, dirs, str(d), "30")
    assert result.returncode == 0, result.stderr
    assert not older.exists()
    assert newest.exists()


@pytest.mark.parametrize("where", ["outside", "root", "dotdot", "symlink"])
def test_refuses_folders_outside_the_backup_root(scripts, dirs, tmp_path, where):
    outside = tmp_path / "outside"
    victim = touch(outside / "litellm-20240101T020000Z.dump", 90)
    touch(outside / "litellm-20240102T020000Z.dump", 90)
    target = {
        "outside": outside,
        "root": dirs.root,
        "dotdot": dirs.postgresql / ".." / ".." / "outside",
        "symlink": dirs.root / "sneaky",
    }[where]
    if where == "symlink":
        target.symlink_to(outside)
    touch(dirs.root / "litellm-20240101T020000Z.dump", 90)
    touch(dirs.root / "litellm-20240102T020000Z.dump", 90)

    result = prune(scripts, dirs, str(target), "30")
    assert result.returncode == 1
    assert "not inside the backup root" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert victim.exists()
    assert (dirs.root / "litellm-20240101T020000Z.dump").exists()


@pytest.mark.parametrize(
    "args", [[], ["DIR"], ["DIR", "abc"], ["DIR", "0"], ["DIR", "-3"], ["DIR", "30", "x"]]
)
def test_bad_arguments(scripts, dirs, args):
    args = [str(dirs.postgresql) if a == "DIR" else a for a in args]
    result = prune(scripts, dirs, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: litellm-backup-prune DIR DAYS")


def test_missing_folder(scripts, dirs):
    result = prune(scripts, dirs, str(dirs.root / "nope"), "30")
    assert result.returncode == 1
    assert "does not exist" in result.stderr
