"""Files shipped inside the tool (templates, the zones table).

A damaged or unreadable installation ends in one line that says what to do, not a traceback.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from tappaas_litellm.common.errors import InputError

__all__ = ["read_json", "read_text"]

_FIX = "reinstall tappaas-litellm, or run it with `nix run .#deploy`"


def _where(name: str) -> str:
    return str(resources.files("tappaas_litellm.hostfile").joinpath(name))


@functools.cache
def read_text(name: str) -> str:
    """The text of the bundled file `name` (e.g. ``data/zones.json``), read once a process."""
    try:
        return resources.files("tappaas_litellm.hostfile").joinpath(name).read_text("utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"the tool's bundled {_where(name)} cannot be read: {reason}; {_FIX}"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"the tool's bundled {_where(name)} is not UTF-8 text; {_FIX}") from None


def read_json(name: str) -> Any:
    """The JSON value of the bundled file `name`."""
    try:
        return json.loads(read_text(name))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the tool's bundled {_where(name)} is damaged "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg}); {_FIX}"
        ) from None
