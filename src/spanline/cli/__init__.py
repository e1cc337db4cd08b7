"""The ``spanline`` command: analyse runs from their telemetry.jsonl.

Every command reads runs through the run store and folds. Errors are one line
on stderr and a non-zero exit, never a traceback, so scripts can rely on the
exit status, the same for every command:

- 0: done;
- 1: a finding (a regression, a rule that failed, a run that failed, something
  not delivered);
- 2: bad input (usage, an unknown or malformed run, a file that cannot be read,
  a missing extra, a refused write);
- 130: interrupted (Ctrl-C), except ``serve``, whose Ctrl-C is its normal end (0).

Click and Rich are imported here only, never by ``import spanline``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spanline`` console script.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 done, 1 a finding, 2 bad input, 130 interrupted.
    """
    import click

    from spanline.cli._app import BAD_INPUT, INTERRUPTED, CliError, cli

    args = sys.argv[1:] if argv is None else argv
    if not args:
        return _fail("missing command", BAD_INPUT, usage=True)
    try:
        try:
            result = cli.main(args=args, prog_name="spanline", standalone_mode=False)
        finally:
            _cut_hint()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail("interrupted", INTERRUPTED)
    except RecursionError:  # input nested too deep for a fold: still one line
        return _fail("input nested too deeply", BAD_INPUT)
    except click.UsageError as exc:
        return _fail(exc.format_message().splitlines()[0], BAD_INPUT, usage=True)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except (OSError, ValueError) as exc:  # an unknown run, a file that cannot be read
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, BAD_INPUT)
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        return _fail(f"internal error: {type(exc).__name__}: {first}", 1)
    return int(result or 0)


def _cut_hint() -> None:
    """After the output: one line when a value was cut for display, saying where it is whole."""
    render = sys.modules.get("spanline.cli._render")  # loaded only when something was drawn
    hint = render.take_hint() if render is not None else None
    if hint:
        sys.stderr.write(f"spanline: note: {hint}\n")


def _fail(message: str, code: int, *, usage: bool = False) -> int:
    """Write the one error line: what the message quotes (a path, a run id a user typed) is
    cut to the display length, with its control characters escaped, so it stays one line."""
    from spanline.folds.display import cut, one_line

    message = one_line(cut(message))
    hint = " (see spanline --help)" if usage else ""
    sys.stderr.write(f"spanline: error: {message}{hint}\n")
    return code
