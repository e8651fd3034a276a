"""The one Nix string-escaping function: exact round trip through real Nix, no code run."""

from __future__ import annotations

from pathlib import Path

import pytest
from genhelpers import nix_eval
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tappaas_litellm.hostfile.nixstr import NixSourceError, nix_comment, nix_path, nix_string

# Pieces that are special somewhere in Nix syntax, mixed with arbitrary text.
TRICKY = [
    "${", "$${", "\\${", "$\\{", "${x}", '${builtins.abort "interpolated"}', "${throw \"x\"}",
    "''", "''${", "'''", "''\\n", '"', '\\"', "\\", "\\\\", "$", "$$", "{", "}",
    "\n", "\r", "\r\n", "\t", "\x01", "\x1b[31m", "\x7f", "\u2028", "é", "ß", "🙂", "中文",
    "# comment", "*/", "/*", " ", "",
]  # fmt: skip

# Nix strings are C strings (no NUL); Python strings may hold lone surrogates (not Unicode text).
any_char = st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))
nix_text = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.text(alphabet=any_char, max_size=12)), max_size=8
).map("".join)

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _round_trip(values: list[str], tmp_path: Path) -> list[str]:
    source = "[\n" + "".join(f"  {nix_string(v)}\n" for v in values) + "]\n"
    return nix_eval(source, tmp_path)


@FAST
@given(values=st.lists(nix_text, min_size=1, max_size=40))
def test_strings_round_trip_through_nix(values: list[str], tmp_path_factory) -> None:
    # Many strings per nix-instantiate call keeps this fast.
    assert _round_trip(values, tmp_path_factory.mktemp("rt")) == values


def test_tricky_strings_round_trip_and_run_no_code(tmp_path: Path) -> None:
    values = [*TRICKY, "".join(TRICKY), "a${b}c''${d}''e\\${f}"]
    # An interpolation would abort, throw or hit an undefined variable; the values must
    # come back exactly.
    assert _round_trip(values, tmp_path) == values


def test_escaped_form_is_readable() -> None:
    assert nix_string("litellm") == '"litellm"'
    assert nix_string('a"b\\c') == '"a\\"b\\\\c"'
    assert nix_string("${x}") == '"\\${x}"'
    assert nix_string("a\nb") == '"a\\nb"'


def test_values_nix_cannot_hold_are_refused() -> None:
    with pytest.raises(NixSourceError):
        nix_string("a\0b")
    with pytest.raises(NixSourceError):
        nix_string("\ud800")
    with pytest.raises(TypeError):
        nix_string(42)  # type: ignore[arg-type]


@FAST
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), max_size=30))
def test_comments_cannot_break_out(texts: list[str], tmp_path_factory) -> None:
    # Each comment sits between list elements; any escape would change the list.
    lines = ["["]
    for index, text in enumerate(texts):
        comment = nix_comment(text)
        assert "\n" not in comment and "\r" not in comment
        lines += [f"  # {comment}", f'  "{index}"']
    lines.append("]")
    value = nix_eval("\n".join(lines) + "\n", tmp_path_factory.mktemp("c"))
    assert value == [str(i) for i in range(len(texts))]


def test_comment_keeps_printable_text() -> None:
    assert nix_comment("/home/tappaas/config/litellm.json") == "/home/tappaas/config/litellm.json"
    assert nix_comment("a\nb\r\x00") == "a\\u000ab\\u000d\\u0000"


@pytest.mark.parametrize(
    "good", ["../../modules/litellm", "../../modules/tappaas-vm.nix", "./modules/litellm"]
)
def test_path_literals(good: str) -> None:
    assert nix_path(good) == good


@pytest.mark.parametrize(
    "bad", ["/abs/path", "../a b", "../${x}", "modules", "../x/", '../"x"', "../x\n", ""]
)
def test_path_literals_refused(bad: str) -> None:
    with pytest.raises(NixSourceError):
        nix_path(bad)
