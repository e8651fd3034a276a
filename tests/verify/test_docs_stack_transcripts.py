"""The `verify --local` transcripts of the docs (marked `stack transcript`) are what verify
prints against the real local stack today, up to temporary paths and numbers (doccheck.py)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import subprocess

from doccheck import ROOT, UPDATE, all_blocks, stack_normalised, transcript_steps

STACK_BLOCKS = [block for block in all_blocks() if block.kind == "stack transcript"]


def test_stack_transcripts_are_what_verify_prints(target, tmp_path) -> None:
    assert STACK_BLOCKS, "docs/operations.md shows verify against the local stack"
    (tmp_path / "stack.json").write_text(json.dumps(dataclasses.asdict(target)))
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    problems = []
    for block in STACK_BLOCKS:
        shown = printed = ""
        for step in transcript_steps(block.text):
            done = subprocess.run(
                ["bash", "-c", step.command],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=300,
                check=False,
            )
            shown += f"$ {step.command}\n{stack_normalised(step.expected)}"
            printed += f"$ {step.command}\n{stack_normalised(done.stdout)}"
        if printed != shown:
            diff = difflib.unified_diff(
                shown.splitlines(keepends=True),
                printed.splitlines(keepends=True),
                "shown in the doc",
                "printed today",
            )
            problems.append(f"{block.where}: update the block ({UPDATE} does not run it):\n")
            problems.append("".join(diff))
    assert not problems, "".join(problems)
