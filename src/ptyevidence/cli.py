"""The ``ptyevidence`` command line: parse, call the library, map errors to exit codes.

Exit codes: 0 success, 1 contract violations or mismatches, 2 unusable input
or usage error, 3 internal error (a bug: please report it). Errors print one
line on standard error, never a traceback (set ``PTYEVIDENCE_DEBUG=1`` to see it).

Each subcommand lives in its own module under :mod:`ptyevidence.commands`
and provides ``register(subparsers)``; modules are discovered, not listed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from . import commands
from ._memory import parse_size, set_memory_budget
from ._version import __version__
from .commands._common import error_text
from .exceptions import PtyEvidenceError

__all__ = ["build_parser", "main", "run"]

PROG = "ptyevidence"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line plus a pointer to --help."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every discovered subcommand registered."""
    parser = _Parser(
        prog=PROG,
        description="Evidence about ptychography datasets and data pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--memory-budget", metavar="SIZE",
        help="refuse operations needing more memory than SIZE (e.g. 4G; default 8G "
        "or $PTYEVIDENCE_MEMORY_BUDGET)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{commands.__name__}.{module.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        0 ok, 1 contract violation or mismatch, 2 unusable input or usage
        error, 3 internal error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    debug = bool(os.environ.get("PTYEVIDENCE_DEBUG"))
    try:
        if args.memory_budget:
            try:
                set_memory_budget(parse_size(args.memory_budget))
            except ValueError as exc:
                parser.error(str(exc))
        return int(args.func(args) or 0)
    except PtyEvidenceError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {error_text(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if debug:
            traceback.print_exc()
        where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
        print(f"{PROG}: error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{PROG}: error: out of memory; lower --memory-budget or use a smaller subset",
              file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: still no traceback
        if debug:
            traceback.print_exc()
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(rerun with PTYEVIDENCE_DEBUG=1 for details and report it)",
            file=sys.stderr,
        )
        return 3
    finally:
        set_memory_budget(None)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
