"""The ``spanline`` command: analyse runs from their telemetry.jsonl.

Every command reads runs through the run store and folds. Errors are one line
on stderr and a non-zero exit, never a traceback, so scripts can rely on the
exit status. Click and Rich are imported here only, never by
``import spanline``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spanline`` console script.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 on an error reading runs, 2 on bad usage
        (a command may define more, e.g. ``compare``).
    """
    import click

    from spanline.cli._app import CliError, cli

    args = sys.argv[1:] if argv is None else argv
    if not args:
        return _fail("missing command", 2, usage=True)
    try:
        result = cli.main(args=args, prog_name="spanline", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        return _fail("aborted", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except RecursionError:  # input nested too deep for a fold: still one line
        return _fail("input nested too deeply", 1)
    except click.UsageError as exc:
        return _fail(exc.format_message().splitlines()[0], 2, usage=True)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except (OSError, ValueError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 1)
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        return _fail(f"internal error: {type(exc).__name__}: {first}", 1)
    return int(result or 0)


def _fail(message: str, code: int, *, usage: bool = False) -> int:
    hint = " (see spanline --help)" if usage else ""
    sys.stderr.write(f"spanline: error: {message}{hint}\n")
    return code
