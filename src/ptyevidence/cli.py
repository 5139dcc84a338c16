"""The ``ptyevidence`` command line: parse, call the library, map errors to exit codes.

Exit codes: 0 success, 1 contract violations or mismatches, 2 unusable input or usage error, 3
internal error (a bug: please report it). Errors print one line on standard error, never a traceback
(set ``PTYEVIDENCE_DEBUG=1`` to see it). Each subcommand is a module of :mod:`ptyevidence.commands`
(discovered, not listed). Library errors name library parameters (``pass force=True``);
:func:`flag_hints` turns them into flags (``pass --force``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import pkgutil
import re
import signal
import sys
import traceback
import warnings
from collections.abc import Collection, Iterator, Sequence

from . import commands
from ._atomic import os_error_reason
from ._memory import parse_size, set_memory_budget
from ._version import __version__
from .commands._common import error_text
from .exceptions import PARAMETER_HINT, PtyEvidenceError
from .readers.links import set_external_links

__all__ = ["build_parser", "flag_hints", "main", "run"]

PROG = "ptyevidence"
#: Library parameters whose flag is not the parameter's name with dashes.
_RENAMED_PARAMETERS = {"out_dir": "--out"}


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
        "--memory-budget",
        metavar="SIZE",
        help="refuse operations needing more memory than SIZE (e.g. 4G; default 8G or $PTYEVIDENCE_MEMORY_BUDGET)",
    )
    parser.add_argument("--allow-external-links", action="store_true", help=_LINKS_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{commands.__name__}.{module.name}").register(sub)
    # The parsers of every command that runs something (``fixture make``, not ``fixture``) also accept it
    # after the command; SUPPRESS keeps a flag given before it.
    for leaf in [p for p, has_subcommands in _parsers(parser) if p is not parser and not has_subcommands]:
        leaf.add_argument("--allow-external-links", action="store_true", default=argparse.SUPPRESS, help=_LINKS_HELP)
    return parser


_LINKS_HELP = (
    "follow HDF5 external links, virtual datasets and external storage (refused by "
    "default); every other file read is then listed and hashed in the sidecar"
)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[argparse.ArgumentParser, bool]]:
    """Yield every parser of the command line, subcommands included, each with whether it has subcommands."""
    pending = [parser]
    while pending:
        current = pending.pop()
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        yield current, bool(subs)
        for action in subs:
            pending.extend(action.choices.values())


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
    try:
        if args.memory_budget:
            try:
                set_memory_budget(parse_size(args.memory_budget))
            except ValueError as exc:
                parser.error(str(exc))
        set_external_links(bool(args.allow_external_links))
        with _terminate_cleanly(), warnings.catch_warnings():
            # A numeric warning means a value out of range; printed, it would pass unnoticed.
            # (Only ours and numpy's: the notebook machinery's own runtime warnings are not data.)
            warnings.filterwarnings("error", category=RuntimeWarning, module=r"(ptyevidence|numpy)(\.|$)")
            return int(args.func(args) or 0)
    except PtyEvidenceError as exc:
        _say("error", error_text(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        _say("error", _os_error_text(exc, args))
        return 2
    except RuntimeWarning as exc:
        files = ", ".join(f"'{p}'" for p in _input_files(args)) or "the input"
        _say(
            "error",
            f"values in {files} are out of range for '{args.command}' ({exc}); check them "
            "for huge or non-finite numbers",
        )
        return 2
    except MemoryError:
        print(f"{PROG}: error: out of memory; lower --memory-budget or use a smaller subset", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: still no traceback
        _say(
            "internal error", f"{type(exc).__name__}: {exc} (rerun with PTYEVIDENCE_DEBUG=1 for details and report it)"
        )
        return 3
    finally:
        set_memory_budget(None)
        set_external_links(None)


#: Characters that end a line for ``str.splitlines`` (or a terminal), besides other controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _say(kind: str, text: str) -> None:
    r"""Print one ``ptyevidence: KIND: TEXT`` line; control characters (a file name may hold any) escaped.

    With ``PTYEVIDENCE_DEBUG`` set, the traceback of the error being handled comes first.

    Examples
    --------
    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     _say("error", "member 'o\x1cbject.npy' is corrupt")
    >>> err.getvalue()
    "ptyevidence: error: member 'o\\x1cbject.npy' is corrupt\n"
    """
    if os.environ.get("PTYEVIDENCE_DEBUG"):
        traceback.print_exc()

    def escape(match: re.Match) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"

    print(f"{PROG}: {kind}: {_CONTROLS.sub(escape, text)}", file=sys.stderr)


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into an exit that runs cleanup (temporary files are removed), then exit 143."""

    def stop(signum: int, frame: object) -> None:
        print(f"{PROG}: terminated", file=sys.stderr)
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _input_files(args: argparse.Namespace) -> list[str]:
    """Return the existing files named by the command's arguments."""
    values = [v for k, v in vars(args).items() if k != "func" and isinstance(v, str)]
    return [v for v in values if os.path.isfile(v)]


def _os_error_text(exc: OSError, args: argparse.Namespace) -> str:
    """Word an OS error nothing more specific caught: its file if it has one, else the command's files."""
    reason = os_error_reason(exc)
    if getattr(exc, "filename", None):
        return f"cannot access '{exc.filename}': {reason}"
    files = ", ".join(f"'{p}'" for p in _input_files(args))
    return f"'{args.command}' failed on {files or 'its files'}: {reason}"


def flag_hints(message: str, flags: Collection[str] | None = None) -> str:
    """Translate the library's parameter hints in an error message into command-line flags.

    ``force=True`` becomes ``--force``, ``subset_size=8`` ``--subset-size 8``,
    ``layout='legacy'`` ``--layout legacy`` and ``out_dir=...`` ``--out``.
    Only names that have a flag are translated, and nothing between
    backquotes (quoted code).

    Parameters
    ----------
    message : str
        A library error message.
    flags : collection of str, optional
        The long options that exist; default: every one the parser knows.

    Returns
    -------
    str
        The message as the command line prints it.

    Examples
    --------
    >>> flag_hints("output 'a.npz' exists; pass force=True to overwrite it")
    "output 'a.npz' exists; pass --force to overwrite it"
    >>> flag_hints("pass layout='canonical' or layout='legacy'")
    'pass --layout canonical or --layout legacy'
    """
    known = _long_options() if flags is None else flags

    def flag(match: re.Match) -> str:
        name, value = match.groups()
        option = _RENAMED_PARAMETERS.get(name, "--" + name.replace("_", "-"))
        if option not in known:
            return match.group(0)
        return option if value in ("True", "...") else f"{option} {value.strip(chr(39))}"

    parts = re.split(r"(`[^`]*`)", message)
    return "".join(part if i % 2 else PARAMETER_HINT.sub(flag, part) for i, part in enumerate(parts))


@functools.lru_cache(maxsize=1)
def _long_options() -> frozenset[str]:
    """Return every long option of the command line, subcommands included."""
    parsers = (p for p, _ in _parsers(build_parser()))
    return frozenset(o for p in parsers for action in p._actions for o in action.option_strings if o.startswith("--"))


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
