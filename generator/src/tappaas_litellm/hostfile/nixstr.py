"""Turning Python values into Nix source text.

Every string that comes from a module file reaches the generated Nix code through
:func:`nix_string`, and only through it. Comments and path literals have their own,
stricter helpers because they are different lexical contexts.
"""

from __future__ import annotations

import re

__all__ = ["NixSourceError", "nix_comment", "nix_path", "nix_string"]


class NixSourceError(ValueError):
    """A value cannot be written as Nix source text."""


# Inside a double-quoted Nix string only four things are special: the closing quote,
# the backslash (escape character), and `${`, which starts an interpolation. Newline,
# carriage return and tab are escaped as well so that every string stays on one line.
_STRING_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "${": "\\${",
}
_STRING_SPECIAL = re.compile(r"\$\{|[\\\"\n\r\t]")


def nix_string(value: str) -> str:
    """Return `value` as a double-quoted Nix string literal that evaluates to `value`.

    Nothing in `value` can end the literal or start an interpolation. Nix strings are
    byte strings that cannot hold NUL, so NUL (and text that is not valid Unicode) is
    refused with :class:`NixSourceError`.
    """
    if not isinstance(value, str):
        raise TypeError(f"nix_string expects str, got {type(value).__name__}")
    if "\0" in value:
        raise NixSourceError("a Nix string cannot contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NixSourceError("a Nix string must be valid Unicode text") from exc
    return '"' + _STRING_SPECIAL.sub(lambda m: _STRING_ESCAPES[m.group(0)], value) + '"'


# A comment runs to the end of the line; the Nix lexer ends it at LF or CR. Every
# control character (and the Unicode line/paragraph separators, which editors show as
# line breaks) is written as a visible \uXXXX escape instead.
_COMMENT_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def nix_comment(text: str) -> str:
    """Return `text` made safe to place after `#` on one line of a Nix file."""
    return _COMMENT_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


# Relative path literals, as the generator writes them: ../../modules/litellm
_PATH_LITERAL = re.compile(r"(?:\.\.?/)+[A-Za-z0-9._+-]+(?:/[A-Za-z0-9._+-]+)*")


def nix_path(relative: str) -> str:
    """Return a relative path as a Nix path literal, refusing anything that is not one."""
    if not _PATH_LITERAL.fullmatch(relative):
        raise NixSourceError(
            f"{relative!r} cannot be written as a Nix path literal "
            "(letters, digits, '.', '_', '+', '-' and '/' only, starting with ./ or ../)"
        )
    return relative
