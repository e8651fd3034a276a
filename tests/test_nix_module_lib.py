"""The module's pure Nix parts, evaluated with Debian's Nix, and its pins.

sizing.nix and environment.nix use only builtins, so the numbers and the
container environment checked here are the very values the module uses.
"""

from __future__ import annotations

import json
import re

import pytest
from nixtools import ROOT, nix_eval

MODULE = ROOT / "modules" / "litellm"
SECRET_NAMES = {
    "LITELLM_MASTER_KEY",
    "LITELLM_SALT_KEY",
    "DATABASE_PASSWORD",
    "REDIS_PASSWORD",
    "UI_PASSWORD",
}


def sizing(cores: int, memory_mib: int, **extra: int) -> dict:
    args = " ".join(f"{k} = {v};" for k, v in extra.items())
    value = nix_eval(
        "import ./modules/litellm/lib/sizing.nix "
        f"{{ cores = {cores}; memoryMiB = {memory_mib}; {args} }}"
    )
    assert isinstance(value, dict)
    return value


def mib(value: str) -> int:
    match = re.fullmatch(r"(\d+)(MB|mb)", value)
    assert match, value
    return int(match.group(1))


@pytest.mark.parametrize(
    ("cores", "memory", "workers", "redis"),
    [(4, 4096, 4, "512mb"), (6, 8192, 6, "1024mb"), (8, 16384, 8, "2048mb")],
)
def test_sizing_guide_tiers(cores: int, memory: int, workers: int, redis: str) -> None:
    size = sizing(cores, memory)
    assert size["workers"] == workers
    assert size["redis"]["maxMemory"] == redis
    assert mib(size["postgresql"]["sharedBuffers"]) == memory // 4
    assert memory // 2 <= mib(size["postgresql"]["effectiveCacheSize"]) <= memory * 3 // 4


@pytest.mark.parametrize("cores", [1, 2, 4, 6, 8, 16, 32])
@pytest.mark.parametrize("memory", [1024, 2048, 4096, 8192, 16384, 65536])
def test_sizing_keeps_connections_and_memory_within_the_vm(cores: int, memory: int) -> None:
    size = sizing(cores, memory)
    workers = size["workers"]
    assert 1 <= workers <= cores
    # LiteLLM's pool (10 per worker) plus the reserve fits in max_connections.
    assert workers * 10 + size["connectionReserve"] <= size["postgresql"]["maxConnections"]
    budget = size["budgetMiB"]
    assert budget["postgresqlSharedBuffers"] + budget["redis"] < memory
    assert mib(size["postgresql"]["workMem"]) >= 4


def test_sizing_accepts_a_fixed_worker_count_and_pool() -> None:
    size = sizing(4, 4096, workers=12, poolLimit=20)
    assert size["workers"] == 12
    assert size["postgresql"]["maxConnections"] >= 12 * 20 + size["connectionReserve"]


def test_container_environment_has_connection_details_and_no_secret() -> None:
    env = nix_eval("import ./modules/litellm/lib/environment.nix { }")
    assert isinstance(env, dict)
    assert env["DATABASE_HOST"] == "127.0.0.1:5432"
    assert env["DATABASE_USERNAME"] == env["DATABASE_NAME"] == "litellm"
    assert (env["REDIS_HOST"], env["REDIS_PORT"]) == ("127.0.0.1", "6379")
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["STORE_MODEL_IN_DB"] == "True"
    assert not SECRET_NAMES & set(env)
    assert all(isinstance(v, str) for v in env.values())


def test_container_environment_logs_warnings() -> None:
    """INFO logs several lines per request (bench/ measures what that costs)."""
    env = nix_eval("import ./modules/litellm/lib/environment.nix { }")
    assert isinstance(env, dict)
    assert env["LITELLM_LOG"] == "WARNING"
    louder = nix_eval(
        'import ./modules/litellm/lib/environment.nix { extra = { LITELLM_LOG = "INFO"; }; }'
    )
    assert isinstance(louder, dict)
    assert louder["LITELLM_LOG"] == "INFO"


def test_container_environment_brackets_ipv6_database_hosts() -> None:
    env = nix_eval(
        "import ./modules/litellm/lib/environment.nix "
        '{ databaseHost = "fd00::5"; databasePort = 6432; }'
    )
    assert isinstance(env, dict)
    assert env["DATABASE_HOST"] == "[fd00::5]:6432"


def test_base_config_refers_to_secrets_only_through_the_environment() -> None:
    config = json.loads((MODULE / "base-config.json").read_text())
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert config["litellm_settings"]["cache_params"]["password"] == "os.environ/REDIS_PASSWORD"
    # The proxy hands its cache's Redis to the router: no second Redis client.
    assert "router_settings" not in config
    assert config["general_settings"]["store_model_in_db"] is True
    text = json.dumps(config)
    assert not re.search(r"sk-[0-9a-f]{8,}", text)


def test_image_pin_matches_the_tested_litellm_release() -> None:
    pin = json.loads((MODULE / "image.json").read_text())
    assert pin["imageName"] == "ghcr.io/berriai/litellm-database"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin["imageDigest"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", pin["hash"])
    setup = (ROOT / "dev" / "setup").read_text()
    version = re.search(r"^LITELLM_VERSION=(\S+)$", setup, re.MULTILINE)
    assert version, "dev/setup names the LiteLLM release the tests run"
    assert pin["finalImageTag"] == f"v{version.group(1)}"


def test_every_script_file_is_wrapped_and_every_wrapped_script_exists() -> None:
    sources = "\n".join(p.read_text() for p in MODULE.glob("*.nix"))
    from_files = set(re.findall(r'mkScript "(litellm-[a-z-]+)"', sources))
    from_files |= set(re.findall(r'mk-script\.nix pkgs "(litellm-[a-z-]+)"', sources))
    # writeShellApplication with runtimeEnv, reading the same kind of file
    from_files |= set(re.findall(r"readFile \./scripts/(litellm-[a-z-]+)\.sh", sources))
    scripts = {p.stem for p in (MODULE / "scripts").glob("*.sh")}
    assert from_files == scripts


def test_modules_use_lib_prefixes_and_no_secret_literals() -> None:
    for path in [*MODULE.glob("*.nix"), ROOT / "modules" / "tappaas-vm.nix"]:
        text = path.read_text()
        assert "with lib;" not in text, path
        assert not re.search(r"sk-[0-9a-f]{16,}", text), path


def container_args(**args: object) -> dict:
    text = " ".join(f"{k} = {json.dumps(v) if v is not None else 'null'};" for k, v in args.items())
    value = nix_eval(f"import ./modules/litellm/lib/container-args.nix {{ {text} }}")
    assert isinstance(value, dict)
    return value


def test_one_worker_gets_no_request_limit_and_no_supervision() -> None:
    """uvicorn supervises workers only when there are two or more: with one, a request limit
    would end LiteLLM and its container."""
    cmd = container_args(workers=1, maxRequestsBeforeRestart=10000)["cmd"]
    assert cmd == [
        *("--config", "/app/config.yaml", "--host", "127.0.0.1", "--port", "4000"),
        *("--num_workers", "1"),
    ]


def test_two_workers_get_the_request_limit_and_time_to_start() -> None:
    cmd = container_args(workers=2, maxRequestsBeforeRestart=10000, port=4001)["cmd"]
    assert cmd[cmd.index("--num_workers") + 1] == "2"
    assert cmd[cmd.index("--max_requests_before_restart") + 1] == "10000"
    # uvicorn's 5 s health check would kill workers that are still importing LiteLLM.
    assert int(cmd[cmd.index("--timeout_worker_healthcheck") + 1]) >= 30
    assert cmd[cmd.index("--port") + 1] == "4001"
    assert "--max_requests_before_restart" not in container_args(workers=2)["cmd"]


def test_the_container_is_hardened() -> None:
    options = container_args()["extraOptions"]
    assert "--security-opt=no-new-privileges" in options
    assert "--cap-drop=all" in options
    assert not any(o.startswith("--cap-add") or o.startswith("--user") for o in options)


def datastore_connections(gateways: dict[str, tuple[int, int]], max_connections: int | None):
    entries = " ".join(
        f"{name} = {{ workers = {w}; poolLimit = {p}; }};" for name, (w, p) in gateways.items()
    )
    maximum = "" if max_connections is None else f"maxConnections = {max_connections};"
    value = nix_eval(
        "import ./modules/litellm/lib/datastore-connections.nix "
        f"{{ gateways = {{ {entries} }}; {maximum} }}"
    )
    assert isinstance(value, dict)
    return value


def test_datastore_derives_room_for_every_gateway() -> None:
    two = datastore_connections({"litellm1": (4, 10), "litellm2": (4, 10)}, None)
    assert (two["total"], two["needed"], two["maxConnections"]) == (80, 90, 100)
    assert two["fits"] is True
    four = datastore_connections({f"gw{i}": (8, 10) for i in range(4)}, None)
    assert (four["total"], four["maxConnections"]) == (320, 340)
    # The derived value always fits.
    assert datastore_connections({f"gw{i}": (8, 10) for i in range(4)}, 340)["fits"] is True


def test_datastore_connection_check_fires_on_a_bad_plan() -> None:
    plan = {"gw1": (4, 10), "gw2": (4, 5)}
    assert datastore_connections(plan, 70)["fits"] is True
    bad = datastore_connections(plan, 69)
    assert bad["fits"] is False
    assert bad["needed"] == 70
    # The words of the evaluation-time message (modules/litellm/datastore.nix).
    assert bad["gateways"] == "gw1 (4 workers x pool limit 10), gw2 (4 workers x pool limit 5)"
    text = (MODULE / "datastore.nix").read_text()
    assert "assertion = connections.fits;" in text
    assert "Raise it to at least ${toString connections.needed}" in text
