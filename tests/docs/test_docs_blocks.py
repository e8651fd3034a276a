"""Every console transcript and sample file in README.md and docs/ is what the code prints or
writes today; every other block says why it is not run (see doccheck.py for the marks).

A failure shows the block's page and line and a diff: update the block (or the code)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from doccheck import (
    KINDS,
    UPDATE,
    Block,
    Scratch,
    all_blocks,
    blocks,
    nix_parse_error,
    nixeval,
    parses,
    parses_as_nix,
    todays_text,
    transcript_steps,
)

BLOCKS = all_blocks()
LOCAL_NIX = re.compile(r"hosts/[^/]+/local\.nix")


def _diff(expected: str, actual: str) -> str:
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            "shown in the doc",
            "printed today",
        )
    )


def test_the_pages_have_blocks() -> None:
    kinds = {block.kind for block in BLOCKS}
    assert {"transcript", "file", "writes", "needs a real VM"} <= kinds, kinds


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_block(block: Block, tmp_path: Path) -> None:
    if block.kind is None:
        pytest.fail(
            f"{block.where}: a ```{block.info} block without a known mark on the line before "
            f"it; put <!-- doc-check: KIND --> there, KIND one of: {', '.join(KINDS)} "
            f"(found: {block.mark!r})"
        )
    if block.kind == "stack transcript":
        # Run with the local stack's fixtures: tests/verify/test_docs_stack_transcripts.py.
        assert transcript_steps(block.text), f"{block.where}: no `$ COMMAND` line"
        return
    if block.kind in ("needs a real VM", "not run"):
        if block.kind == "not run":
            assert block.argument, f"{block.where}: say why it is not run: 'not run: REASON'"
        return
    if block.kind == "nix":
        problem = parses_as_nix(block.text, tmp_path)
        assert problem is None, f"{block.where}: the Nix does not parse:\n{problem}"
        return
    if block.kind == "file":
        problem = parses(block.argument, block.text, tmp_path)
        assert problem is None, f"{block.where}: {block.argument} does not parse:\n{problem}"
        if not LOCAL_NIX.fullmatch(block.argument):
            return
    if block.kind == "file":
        scratch = Scratch.make(tmp_path)
        scratch.put(block.argument, block.text)
        host = block.argument.removesuffix("local.nix") + "default.nix"
        problem = nixeval(scratch, host)
        assert problem is None, f"{block.where}: {host} with this local.nix fails:\n{problem}"
        return
    if block.kind == "evaluation fails":
        scratch = Scratch.make(tmp_path)
        sources = [
            b for b in blocks(block.page) if b.kind == "file" and b.argument == block.argument
        ]
        assert sources, f"{block.where}: no `file {block.argument}` block on this page"
        scratch.put(block.argument, sources[0].text)
        problem = nixeval(scratch, block.argument)
        assert problem is not None, f"{block.where}: {block.argument} evaluates without an error"
        if block.text not in problem + "\n":
            pytest.fail(
                f"{block.where}: NixOS no longer says this for {block.argument}; update the "
                f"block from what nixeval printed:\n{problem}"
            )
        return
    if block.kind == "evaluates":
        scratch = Scratch.make(tmp_path)
        snippet = block.text
        if nix_parse_error(snippet, tmp_path) is not None:
            snippet = "{\n" + snippet + "\n}\n"
        scratch.put("doc-snippet.nix", snippet)
        modules = ["doc-snippet.nix"]
        if "imports" not in snippet:
            modules.append("hosts/litellm/default.nix")
        problem = nixeval(scratch, *modules)
        assert problem is None, f"{block.where}: the module does not evaluate:\n{problem}"
        return
    if block.kind == "transcript":
        assert transcript_steps(block.text), f"{block.where}: no `$ COMMAND` line"
    today = todays_text(block, tmp_path)
    if today is None:
        pytest.fail(f"{block.where}: `{block.argument}` wrote nothing; run it to see why")
    if today != block.text:
        pytest.fail(
            f"{block.where}: the block is not what the code prints or writes today (commands "
            f"ran in a copy of the repository); update it ({UPDATE}):\n"
            f"{_diff(block.text, today)}"
        )
