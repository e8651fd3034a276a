"""The fenced blocks of README.md and docs/*.md, and what each one claims.

Every fenced block carries a mark on the line before its opening fence, an HTML comment
GitHub does not show:

    <!-- doc-check: transcript -->          a console session: each `$ COMMAND` line is run
                                            with bash in a scratch copy of this repository
                                            and its output (stdout and stderr) must be the
                                            lines below it, up to the next `$ ` line
    <!-- doc-check: file PATH -->           a sample file: it must parse (.nix, .json); a
                                            transcript of the same page that names PATH
                                            finds it at PATH in the scratch copy
    <!-- doc-check: writes PATH: COMMAND --> the block is the file COMMAND writes at PATH
    <!-- doc-check: nix -->                 a Nix snippet (an expression, or attributes of
                                            one): it must parse
    <!-- doc-check: evaluates -->           a NixOS module (or the attributes of one): nixeval
                                            evaluates it against the module's options and
                                            NixOS' (alone when it has `imports`, else with
                                            hosts/litellm/default.nix); so does a `file` block
                                            at hosts/NAME/local.nix, with its host
    <!-- doc-check: evaluation fails: FILE --> the block is (a part of) what NixOS says when
                                            nixeval evaluates the page's `file FILE` block
    <!-- doc-check: stack transcript -->    a transcript run against the local test stack
                                            (tests/verify/test_docs_stack_transcripts.py):
                                            temporary paths become /tmp/…/NAME, and numbers
                                            in a check's line (ports, sizes with units,
                                            times) N
    <!-- doc-check: needs a real VM -->     commands for a VM, Proxmox or a Nix machine
    <!-- doc-check: not run: REASON -->     anything else that is not run here, and why

The scratch copy lives at <tmp>/home/tappaas/tappaas-litellm with HOME=<tmp>/home/tappaas,
so outputs read as they do on the TAPPaaS CI/CD machine; those two paths are the only
thing normalised.

    .venv/bin/python tests/doccheck.py --update   # rewrite transcript and writes blocks
                                                       # with what the code prints today
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN_FLAKE = "/home/tappaas/tappaas-litellm"
SHOWN_HOME = "/home/tappaas"
COMMAND_TIMEOUT = 120
UPDATE = ".venv/bin/python tests/doccheck.py --update"

MARK = re.compile(r"^<!--\s*doc-check:\s*(?P<mark>.*?)\s*-->$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
KINDS = (
    "stack transcript",
    "transcript",
    "file",
    "writes",
    "nix",
    "evaluates",
    "evaluation fails",
    "needs a real VM",
    "not run",
)
NIXEVAL = ROOT.parent / "shared" / "tools" / "nixeval" / "eval.sh"
# What a scratch copy leaves out: version control, virtual environments, caches, build links.
SKIPPED = shutil.ignore_patterns(
    ".git", ".venv", ".venv-litellm", "__pycache__", ".*_cache", "result*", "bench", "nixos-tests"
)


def documents(root: Path = ROOT) -> list[Path]:
    """README.md and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    info: str
    text: str
    mark: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str | None:
        if self.mark is None:
            return None
        return next((k for k in KINDS if self.mark.startswith(k)), None)

    @property
    def argument(self) -> str:
        assert self.kind and self.mark
        return self.mark[len(self.kind) :].lstrip(" :")


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks, each with the doc-check mark on the line before it."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        before = lines[i - 1].strip() if i > 0 else ""
        marked = MARK.match(before)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""
        ):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        text = "\n".join(body) + "\n"
        found.append(
            Block(page, i + 1, opening["info"].strip(), text, marked["mark"] if marked else None)
        )
        i = j + 1
    return found


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [block for page in documents(root) for block in blocks(page)]


@dataclass(frozen=True)
class Step:
    command: str
    expected: str


def transcript_steps(text: str) -> list[Step]:
    """`$ COMMAND` lines (a trailing `\\` continues one) and the output shown below each."""
    steps: list[Step] = []
    command: list[str] | None = None
    output: list[str] = []

    def close() -> None:
        if command is not None:
            while output and not output[-1].strip():
                output.pop()
            steps.append(Step(" ".join(command), "".join(line + "\n" for line in output)))

    lines = text.rstrip("\n").split("\n")
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.startswith("$ "):
            close()
            command, output = [line[2:].rstrip("\\").strip()], []
            while line.endswith("\\") and k + 1 < len(lines):
                k += 1
                line = lines[k]
                command.append(line.rstrip("\\").strip())
        elif command is not None:
            output.append(line)
        k += 1
    close()
    return steps


@dataclass
class Scratch:
    """A copy of this repository where the doc's commands run."""

    flake: Path
    home: Path

    @classmethod
    def make(cls, tmp: Path, root: Path = ROOT) -> Scratch:
        home = tmp / "home" / "tappaas"
        flake = home / "tappaas-litellm"
        shutil.copytree(root, flake, ignore=SKIPPED, symlinks=True)
        # The tool from this checkout's venv; dev/setup must see it as installed and
        # never reinstall it from the copy.
        (flake / ".venv").symlink_to(root / ".venv")
        os.utime(flake / "generator" / "pyproject.toml", (0, 0))
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAAC3Nza tappaas@cicd\n")
        (home / "config").mkdir()
        return cls(flake, home)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("NIX_SSHOPTS", "VIRTUAL_ENV")}
        env.update(
            HOME=str(self.home),
            # An empty TAPPaaS config folder: this machine's /home/tappaas/config is never read.
            TAPPAAS_CONFIG_DIR=str(self.home / "config"),
            PATH=f"{self.flake / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            COLUMNS="200",
        )
        return env

    def run(self, command: str) -> tuple[int, str]:
        try:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.flake,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as timeout:
            out = timeout.stdout if isinstance(timeout.stdout, str) else ""
            return -1, self.shown(out) + f"[still running after {COMMAND_TIMEOUT} s]\n"
        return done.returncode, self.shown(done.stdout)

    def shown(self, text: str) -> str:
        """The output as on the CI/CD machine: the scratch paths replaced by the shown ones."""
        return text.replace(str(self.flake), SHOWN_FLAKE).replace(str(self.home), SHOWN_HOME)

    def put(self, relative: str, text: str) -> None:
        path = self.flake / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def nix_parse_error(source: str, tmp: Path) -> str | None:
    """None when `source` parses as a Nix expression, else nix-instantiate's message."""
    path = tmp / "snippet.nix"
    path.write_text(source, encoding="utf-8")
    done = subprocess.run(
        ["nix-instantiate", "--parse", str(path)], capture_output=True, text=True, check=False
    )
    return None if done.returncode == 0 else done.stderr.strip()


def parses_as_nix(text: str, tmp: Path) -> str | None:
    """None when `text` parses as a Nix expression or as the attributes of one, else why not."""
    problem = nix_parse_error(text, tmp)
    if problem is not None and nix_parse_error("{\n" + text + "\n}\n", tmp) is None:
        return None
    return problem


def parses(path: str, text: str, tmp: Path) -> str | None:
    """None when a sample file parses as its extension says, else why not."""
    if path.endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            return f"not JSON: {error}"
    if path.endswith(".nix"):
        return parses_as_nix(text, tmp)
    return None


def nixeval(scratch: Scratch, *modules: str) -> str | None:
    """None when nixeval evaluates the modules (paths in the scratch copy) without an error
    or a failed assertion, else its message."""
    if not NIXEVAL.is_file():
        return f"{NIXEVAL} is missing: the nixeval tool sits in ../shared"
    done = subprocess.run(
        ["bash", str(NIXEVAL), str(scratch.flake), *(str(scratch.flake / m) for m in modules)],
        capture_output=True,
        text=True,
        env=scratch.env(),
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if done.returncode == 0:
        return None
    return scratch.shown(done.stderr.strip())


def replay(scratch: Scratch, steps: list[Step]) -> str:
    """The transcript as the commands print it today in the scratch copy."""
    printed = ""
    for step in steps:
        _, output = scratch.run(step.command)
        printed += f"$ {step.command}\n{output}"
    return printed


def todays_text(block: Block, tmp: Path) -> str | None:
    """What a transcript or writes block would hold today (None for other blocks)."""
    if block.kind not in ("transcript", "writes"):
        return None
    scratch = Scratch.make(tmp)
    if block.kind == "writes":
        path, _, command = block.argument.partition(":")
        written = scratch.flake / path.strip()
        written.unlink(missing_ok=True)
        scratch.run(command.strip())
        return scratch.shown(written.read_text(encoding="utf-8")) if written.is_file() else None
    steps = transcript_steps(block.text)
    for sample in blocks(block.page):
        if sample.kind == "file" and any(sample.argument in s.command for s in steps):
            scratch.put(sample.argument, sample.text)
    return replay(scratch, steps)


def update(root: Path = ROOT) -> int:
    """Rewrite every transcript and writes block with what the code prints today."""
    for page in documents(root):
        lines = page.read_text(encoding="utf-8").split("\n")
        changed = False
        for block in reversed(blocks(page)):
            with tempfile.TemporaryDirectory(prefix="doccheck-") as tmp:
                text = todays_text(block, Path(tmp))
            if text is None or text == block.text:
                continue
            indent = lines[block.line - 1][
                : len(lines[block.line - 1]) - len(lines[block.line - 1].lstrip())
            ]
            body = [indent + line if line else line for line in text.rstrip("\n").split("\n")]
            end = block.line + block.text.count("\n")  # index of the closing fence
            lines[block.line : end] = body
            changed = True
            print(f"updated {block.where}")
        if changed:
            page.write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE}")
    sys.exit(update())


TMP_PATH = re.compile(r"/tmp/[^\s,;()]*/([^/\s,;()]+)")
# A number, with the unit of a size when it has one (the unit follows the size: B, KiB, ...).
NUMBER = re.compile(r"\d+(?:\.\d+)*(?: ?(?:[KMGT]iB|[KMGT]|B)\b)?")
CHECK_LINE = re.compile(r"^(PASS|FAIL|SKIP)  ")


def stack_normalised(text: str) -> str:
    """A verify transcript with what differs between stack runs evened out: temporary paths
    shown as /tmp/…/NAME, and every number in a check's line (a size with its unit) as N."""
    lines = []
    for line in TMP_PATH.sub(r"/tmp/…/\1", text).split("\n"):
        if CHECK_LINE.match(line):
            line = line[:6] + NUMBER.sub("N", line[6:])
        lines.append(line)
    return "\n".join(lines)
