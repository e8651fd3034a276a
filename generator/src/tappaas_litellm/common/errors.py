"""Errors the command line turns into messages and exit statuses."""

from __future__ import annotations

import click

__all__ = ["EXIT_BAD_INPUT", "InputError", "StepError"]

EXIT_BAD_INPUT = 2


class InputError(click.ClickException):
    """Bad input from the user: one line per problem, exit status 2, no traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def show(self, file: object = None) -> None:
        for problem in self.problems:
            click.echo(f"error: {problem}", err=True)


class StepError(click.ClickException):
    """A step of a command failed; its output has been shown already."""

    def __init__(self, message: str, *, exit_code: int = 1, hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code if exit_code > 0 else 1
        self.hint = hint

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)
        if self.hint:
            click.echo(f"hint: {self.hint}", err=True)
