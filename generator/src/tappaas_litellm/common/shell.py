"""Quoting for shell commands: the one place a value becomes part of a command line.

Every command the tool runs through a shell (on the VM over SSH, in a test VM, or here)
is built from constant text and values passed through :func:`quote` or :func:`join`,
so a value with quotes, ``$(...)``, newlines or a leading ``-`` arrives as one word,
unchanged, and runs nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

__all__ = ["join", "quote"]


def quote(value: str) -> str:
    """`value` as one shell word."""
    return shlex.quote(value)


def join(words: Iterable[str]) -> str:
    """The words as a shell command line, each quoted."""
    return " ".join(quote(word) for word in words)
