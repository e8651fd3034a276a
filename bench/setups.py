"""The LiteLLM configurations the benchmark compares, each as LiteLLM would see it.

* ``guide``: the install guide's ``litellm.nix`` (TAPPaaS ``src/apps/litellm``): ``set_verbose``,
  ``json_logs``, the Redis cache with 100 connections, Redis in ``router_settings``, 4 workers;
* ``defaults``: LiteLLM with nothing but the model and the master key (one worker, its default);
* ``module``: this module's ``base-config.json`` and ``lib/environment.nix``, rendered by the very
  code the tests use (``tests/stacklib.py``), with the worker count ``lib/sizing.nix`` derives for
  this machine's cores and memory;
* ``floor``: the module's, without Redis (no cache, limits counted per worker): what one request
  costs LiteLLM itself, the least CPU per request any configuration here needs.

None of them has a database here (Prisma's engines cannot be downloaded on a machine without
Nix's cache); every one gets the same model at the fake upstream, the same secrets file and the
same Redis with a password.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

from stacklib import (
    MODEL_NAME,
    REPO_ROOT,
    RedisServer,
    container_environment,
    eval_module_lib,
    render_config,
)

SIZING_NIX = REPO_ROOT / "modules" / "litellm" / "lib" / "sizing.nix"


@dataclass(frozen=True)
class Setup:
    name: str
    label: str
    config: dict[str, Any]
    environment: dict[str, str]
    workers: int


def model_list(upstream_base_url: str) -> list[dict[str, Any]]:
    """The one model every configuration serves: the module's rendering of it."""
    return copy.deepcopy(render_config(upstream_base_url)["model_list"])


def machine_size() -> tuple[int, int]:
    """(cores, memory MiB) of this machine, as `resources` would describe a VM of its size;
    the cores are those this process may run on (so `taskset -c 0-3` models 4 vCPUs)."""
    cores = len(os.sched_getaffinity(0)) or 1
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return cores, int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def module_workers(cores: int, memory_mib: int) -> int:
    """The module's default worker count for a VM of this size (lib/sizing.nix)."""
    expr = f"(import {SIZING_NIX} {{ cores = {cores}; memoryMiB = {memory_mib}; }}).workers"
    return int(eval_module_lib(SIZING_NIX, expr))


def guide(upstream_base_url: str, redis: RedisServer) -> Setup:
    """The install guide's configuration; its database settings are left out (no database here)
    and its Redis gets the password every configuration here uses."""
    redis_params = {
        "host": redis.host,
        "port": redis.port,
        "password": "os.environ/REDIS_PASSWORD",
    }
    config = {
        "model_list": model_list(upstream_base_url),
        "general_settings": {
            "master_key": "os.environ/LITELLM_MASTER_KEY",
            "database_connection_pool_limit": 25,
            "database_connection_timeout": 60,
            "proxy_batch_write_at": 60,
            "disable_spend_logs": False,
            "public_routes": ["/health", "/health/liveliness", "/health/readiness"],
        },
        "router_settings": {
            "redis_host": redis.host,
            "redis_port": redis.port,
            "redis_password": "os.environ/REDIS_PASSWORD",
            "routing_strategy": "simple-shuffle",
        },
        "litellm_settings": {
            "cache": True,
            "cache_type": "redis",
            "cache_params": {"type": "redis", **redis_params, "max_connections": 100},
            "load_models_from_db": True,
            "set_verbose": True,
            "json_logs": True,
            "request_timeout": 300,
            "max_retries": 3,
            "log_raw_request_response": False,
        },
    }
    return Setup(
        name="guide",
        label="install guide",
        config=config,
        environment={"STORE_MODEL_IN_DB": "True"},
        workers=4,
    )


def defaults(upstream_base_url: str) -> Setup:
    return Setup(
        name="defaults",
        label="LiteLLM defaults",
        config={
            "model_list": model_list(upstream_base_url),
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        },
        environment={},
        workers=1,
    )


def module(upstream_base_url: str, redis: RedisServer, workers: int) -> Setup:
    environment = container_environment(redis.host, redis.port)
    environment = {k: v for k, v in environment.items() if not k.startswith("DATABASE_")}
    config = render_config(upstream_base_url)
    assert config["model_list"][0]["model_name"] == MODEL_NAME
    return Setup(
        name="module",
        label="this module",
        config=config,
        environment=environment,
        workers=workers,
    )


def floor(upstream_base_url: str, workers: int) -> Setup:
    """The module's configuration and environment without Redis: no response cache, rate limits
    and key cache per worker. Not a configuration to run, the measure of LiteLLM's own cost."""
    config = render_config(upstream_base_url)
    for key in ("cache", "cache_params"):
        config["litellm_settings"].pop(key, None)
    environment = container_environment("127.0.0.1", 6379)
    environment = {
        k: v for k, v in environment.items() if not k.startswith(("DATABASE_", "REDIS_"))
    }
    return Setup(
        name="floor",
        label="this module without Redis",
        config=config,
        environment=environment,
        workers=workers,
    )
