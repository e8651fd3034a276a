"""The committed sample host is exactly what the tool writes from the bundled litellm.json."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nixtools import ROOT


def test_generate_reproduces_the_committed_host(tmp_path: Path) -> None:
    # A copy of the parts generate reads, so the checkout itself is never written.
    shutil.copy(ROOT / "litellm.json", tmp_path / "litellm.json")
    shutil.copy(ROOT / "flake.nix", tmp_path / "flake.nix")
    shutil.copytree(ROOT / "modules", tmp_path / "modules")
    out = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "tappaas-litellm"),
            "generate",
            "litellm",
            "--config",
            "litellm.json",
            "--out",
            "hosts",  # upstream's sample (a site's hosts go to site/hosts)
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TAPPAAS_CONFIG_DIR": str(tmp_path / "no-config-dir")},
    )
    assert out.returncode == 0, out.stderr
    assert "wrote hosts/litellm/default.nix" in out.stdout + out.stderr
    generated = (tmp_path / "hosts" / "litellm" / "default.nix").read_text()
    assert generated == (ROOT / "hosts" / "litellm" / "default.nix").read_text()


def test_the_tool_shows_what_the_module_derives() -> None:
    from tappaas_litellm.common.process import Runner
    from tappaas_litellm.hostfile.sizing import derived_sizing

    derived = derived_sizing(ROOT, 4, 4096, Runner())
    assert derived is not None
    assert derived["workers"] == 4
    assert derived["redis"]["maxMemory"] == "512mb"


def test_app_version_tells_the_pinned_image() -> None:
    # appVersion is what an admin reads in TAPPaaS's listings: the LiteLLM the module runs.
    import json

    module = json.loads((ROOT / "litellm.json").read_text())
    pin = json.loads((ROOT / "modules" / "litellm" / "image.json").read_text())
    assert f"v{module['appVersion']}" == pin["finalImageTag"]
    assert module["config"]["firewall:proxy"]["proxyPort"] == 4000


def test_the_largest_vm_the_tool_accepts_gives_settings_postgresql_and_redis_take() -> None:
    # memory is bounded by Proxmox (4 TiB); what lib/sizing.nix derives from it must stay
    # within PostgreSQL's own maximums (8 kB pages, 64-bit build) and be a whole Redis size.
    from tappaas_litellm.common.process import Runner
    from tappaas_litellm.hostfile.module_fields import CORES_MAX, CORES_MIN, MEMORY_MAX_MIB
    from tappaas_litellm.hostfile.sizing import derived_sizing

    pg_max_mb = {
        "sharedBuffers": (2**31 - 1) // 2 * 8 // 1024,  # shared_buffers: INT_MAX / 2 pages
        "effectiveCacheSize": (2**31 - 1) * 8 // 1024,  # effective_cache_size: INT_MAX pages
        "workMem": (2**31 - 1) // 1024,  # work_mem: MAX_KILOBYTES
        "maintenanceWorkMem": (2**31 - 1) // 1024,
    }
    for cores in (CORES_MIN, CORES_MAX):
        derived = derived_sizing(ROOT, cores, MEMORY_MAX_MIB, Runner())
        assert derived is not None
        for setting, limit in pg_max_mb.items():
            value = derived["postgresql"][setting]
            assert value.endswith("MB") and 0 < int(value[:-2]) <= limit, (setting, value)
        assert derived["redis"]["maxMemory"] == f"{MEMORY_MAX_MIB // 8}mb"
        assert 0 < derived["postgresql"]["maxConnections"] <= 262143  # MAX_BACKENDS
