"""What the two command-line tools share: error reporting, JSON output, small tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from relay.client import jsonio
from relay.client.errors import ApiError, TransportError

# Exit codes: 1 the relay refused, 2 no answer (or work left queued for later).
REFUSED = 1
NO_ANSWER = 2


class Failed(click.ClickException):
    """An error message, printed without a traceback; exit code 1."""

    exit_code = REFUSED

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class NoAnswer(Failed):
    """The relay could not be reached; exit code 2."""

    exit_code = NO_ANSWER


class Group(click.Group):
    """A command group that reports the relay's errors as one readable line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiError as err:
            raise Failed(describe(err)) from err
        except TransportError as err:
            raise NoAnswer(err.message) from err


def describe(err: ApiError) -> str:
    """The relay's sentence, its code, and the field errors or lines that explain it."""
    text = f"{err.message} [{err.status} {err.code}]"
    fields = err.details.get("fields")
    if fields:
        text += "\n  fields: " + jsonio.dumps(fields)
    lines = err.details.get("lines")
    if isinstance(lines, list):
        for line in lines:
            text += "\n  " + ", ".join(f"{k}={v}" for k, v in line.items() if v is not None)
    return text


def echo_json(data: Any) -> None:
    """Print JSON with Cyrillic as-is and decimals exact."""
    click.echo(jsonio.dumps(data, indent=2))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print rows as aligned columns under a header."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
