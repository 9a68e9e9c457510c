"""What the ``campaign`` commands print: one line per error with an exit code, and results on stdout.

:func:`run_command` runs a command's action and turns every error into one line on stderr and a non-zero
exit code, never a traceback (exit 2 for a bad brief, 130 on Ctrl-C, 143 on SIGTERM, 1 otherwise;
``CAMPAIGN_DEBUG`` shows the traceback of an unexpected error). SIGTERM unwinds the command like Ctrl-C, so its
clean-ups run: ``campaign plan`` stops the embedded vLLM server it started instead of leaving it orphaned.
:func:`emit` prints a result as JSON on stdout, or a one-line summary.
Progress and messages go to :data:`console` (stderr), so stdout holds only results. The commands themselves
are in :mod:`agent.cli`.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from agent.brief import BriefError
from agent.settings import get_settings

console = Console(stderr=True)


class CliError(Exception):
    """An error shown to the user as one line, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Terminated(BaseException):
    """SIGTERM arrived while a command ran (a BaseException, so no ``except Exception`` swallows it)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _known_errors() -> tuple[type[BaseException], ...]:
    from agent.llm import LLMError, LLMServerError, StructuredOutputError
    from tools.shop import DatasetFetchError, ShopDataError

    return (LLMError, LLMServerError, DatasetFetchError, ShopDataError, StructuredOutputError, OSError)


def run_command(action: Callable[[], Any]) -> None:
    """Run ``action``; turn every error into one line on stderr and a non-zero exit, never a traceback.

    Args:
        action: The command's work, called without arguments.

    Raises:
        typer.Exit: With code 2 for a :class:`~agent.brief.BriefError`, the error's code for a
            :class:`CliError`, 130 on Ctrl-C, 143 on SIGTERM (after the action's clean-ups ran) and 1 for any
            other error.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main else None
    try:
        action()
    except Terminated:
        console.print("terminated")
        raise typer.Exit(143) from None
    except BriefError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except CliError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.code) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        if not isinstance(exc, _known_errors()) and get_settings().debug:
            raise
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def emit(result: dict[str, Any], as_json: bool, line: str) -> None:
    """Print ``result`` as JSON on stdout, or a one-line summary.

    Args:
        result: The command's result.
        as_json: Print ``result`` as indented JSON instead of ``line``.
        line: The one-line summary.
    """
    sys.stdout.write((json.dumps(result, indent=2, default=str) if as_json else line) + "\n")
