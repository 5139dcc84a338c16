"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import sys
from collections.abc import Callable
from typing import Any

from .._json import strict_json
from ..readers.layout import LAYOUTS

#: Kept here (not imported from the fixture package) so that building the parser stays light.
STRATEGIES = ("stratified-index", "grid", "farthest-point")
HASH_MODES = ("auto", "full", "none")

__all__ = [
    "HASH_MODES",
    "STRATEGIES",
    "add_contract",
    "add_force",
    "add_geometry",
    "add_interpreter",
    "add_json",
    "add_layout",
    "add_reader",
    "add_subset",
    "add_thresholds",
    "call_with_args",
    "emit_json",
    "error_text",
    "flag_options",
    "print_report",
    "ratio_type",
    "real_number",
    "seed_type",
    "subset_size_type",
    "whole_number",
]


def add_layout(parser: argparse.ArgumentParser) -> None:
    """Add ``--layout auto|canonical|legacy``."""
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="auto",
        help="stored order of the diffraction stack: (N,H,W) canonical or (H,W,N) legacy; "
        "auto decides from the shapes and refuses when ambiguous (default: auto)",
    )


def add_reader(parser: argparse.ArgumentParser) -> None:
    """Add ``--reader NAME`` and ``--positions-from FILE``."""
    parser.add_argument(
        "--reader",
        metavar="NAME",
        help="reader of the file: npz, cxi, ptychodus-product, ptychodus-training, or ptychodus[:PLUGIN] "
        "(a ptychodus reader plugin, with the ptychodus extra); default: recognized from the file, "
        "ptychodus's plugins tried when no built-in reader can use it",
    )
    parser.add_argument(
        "--positions-from",
        metavar="FILE",
        help="file holding the positions of a diffraction-only file (e.g. the ptychodus product "
        "written with its diffraction.cxi); the counts must agree",
    )


def add_geometry(parser: argparse.ArgumentParser) -> None:
    """Add ``--geometry far-field|near-field`` and ``--sample-pixel-size METRES`` (CXI input)."""
    parser.add_argument(
        "--geometry",
        choices=("far-field", "near-field"),
        default=None,
        help="CXI input: the propagation geometry its translations are converted to object pixels "
        "for; near-field needs --sample-pixel-size (default: far-field, assumed and said so, as "
        "CXI files do not record it)",
    )
    parser.add_argument(
        "--sample-pixel-size",
        metavar="METRES",
        type=real_number("sample pixel size in metres"),
        help="CXI input: sample-plane pixel size in metres; overrides the far-field formula",
    )


def add_subset(parser: argparse.ArgumentParser, size_help: str, strategy_help: str) -> None:
    """Add ``--subset-size N``, ``--strategy`` and ``--seed N``: how a fixture's positions are chosen."""
    parser.add_argument("--subset-size", type=subset_size_type, default=64, metavar="N", help=size_help)
    parser.add_argument("--strategy", choices=STRATEGIES, default="stratified-index", help=strategy_help)
    parser.add_argument(
        "--seed", type=seed_type, default=0, metavar="N", help="seed of the farthest-point start (default: 0)"
    )


def add_thresholds(parser: argparse.ArgumentParser, range_help: str, occupancy_help: str) -> None:
    """Add ``--min-range-ratio R`` and ``--min-occupancy R``: the coverage a subset must reach."""
    parser.add_argument("--min-range-ratio", type=ratio_type, metavar="R", help=range_help)
    parser.add_argument("--min-occupancy", type=ratio_type, metavar="R", help=occupancy_help)


def add_interpreter(parser: argparse.ArgumentParser, context: str = "") -> None:
    """Add ``--python PATH`` and ``--ptychopinn PATH``: where PtychoPINN runs (``context`` opens each help)."""
    parser.add_argument(
        "--python", metavar="PATH", help=f"{context}interpreter of PtychoPINN's environment (default: this one)"
    )
    parser.add_argument(
        "--ptychopinn",
        metavar="PATH",
        help=f"{context}PtychoPINN source checkout to add to that interpreter's sys.path",
    )


def subset_size_type(text: str) -> int:
    """Return ``--subset-size`` as an integer; the library's own check words a refusal of its choice."""
    with contextlib.suppress(ValueError):
        return int(text)
    from ..exceptions import UsageError
    from ..fixture.strategies import MIN_SUBSET_SIZE, check_subset_choice

    try:
        check_subset_choice(text, minimum=MIN_SUBSET_SIZE)
    except UsageError as exc:
        # argparse names the flag before the message: drop the parameter's name.
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{exc.parameter} ")) from None
    raise AssertionError(text)  # unreachable: text is not an integer


def add_contract(parser: argparse.ArgumentParser, default: str | None = "data001") -> None:
    """Add ``--contract NAME|PATH``."""
    parser.add_argument(
        "--contract",
        metavar="NAME|PATH",
        default=default,
        help="built-in contract name or contract JSON file"
        + (f" (default: {default})" if default else " (default: by file format)"),
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``."""
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON report")


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force``."""
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def call_with_args(func: Callable[..., Any], args: argparse.Namespace, *positional: Any, **given: Any) -> Any:
    """Call ``func`` with ``positional``, ``given`` and each of its other parameters the command line set.

    A flag's destination is the name of the library parameter it sets (``--subset-size`` is
    ``subset_size``: the rule :func:`error_text` and :func:`ptyevidence.cli.flag_hints` translate
    back by), so a handler passes the flags by name; ``given`` holds the ones named otherwise. A flag
    whose value is None (not given) leaves the library's default.

    Examples
    --------
    >>> def cut(source, seed=0, force=False):
    ...     return source, seed, force
    >>> call_with_args(cut, argparse.Namespace(source="a.npz", force=True, json=False), seed=7)
    ('a.npz', 7, True)
    >>> call_with_args(cut, argparse.Namespace(source="a.npz", seed=None))
    ('a.npz', 0, False)
    """
    return func(*positional, **{**flag_options(func, args, skip=len(positional)), **given})


def flag_options(func: Callable[..., Any], args: argparse.Namespace, skip: int = 0) -> dict[str, Any]:
    """Return the parameters of ``func`` after its first ``skip`` that the command line set, by name.

    What :func:`call_with_args` passes; for a function that hands ``**kwargs`` on, ask with the one receiving them.
    """
    names = list(inspect.signature(func).parameters)[skip:]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def emit_json(data: Any) -> None:
    """Print ``data`` as indented, standard JSON on standard output.

    A non-finite number (JSON has none) is written as ``null``, and a report
    that is an object gets a ``non-finite-output`` warning in its
    ``findings`` list naming each key path.
    """
    clean, paths = strict_json(data)
    if paths and isinstance(clean, dict):
        findings = clean.setdefault("findings", [])
        if isinstance(findings, list):
            findings.extend(
                {
                    "rule": "non-finite-output",
                    "field": path,
                    "severity": "warning",
                    "message": f"{path} is not a finite number; written as null (JSON has no NaN or Infinity)",
                }
                for path in paths
            )
    json.dump(clean, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def print_report(report: Any, as_json: bool, ok: bool = True) -> int:
    """Print a report as JSON (its ``to_dict()``) or as text (its ``to_text()``); return the exit code for ``ok``."""
    if as_json:
        emit_json(report.to_dict())
    else:
        print(report.to_text())
    return 0 if ok else 1


def error_text(error: BaseException) -> str:
    """Return an error's message for the command line: a library parameter it names becomes its flag.

    A library error about one parameter starts with its name and carries it as ``parameter``; the command
    line prints the flag in its place. Hints such as ``force=True`` elsewhere in the message become flags
    through :func:`ptyevidence.cli.flag_hints`.

    Examples
    --------
    >>> error = ValueError("subset_size 8 is out of range")
    >>> error.parameter = "subset_size"
    >>> error_text(error)
    '--subset-size 8 is out of range'
    >>> error_text(ValueError("output 'a.npz' exists; pass force=True to overwrite it"))
    "output 'a.npz' exists; pass --force to overwrite it"
    """
    from ..cli import flag_hints  # the parser that knows the flags imports this module

    text = str(error)
    name = getattr(error, "parameter", None)
    if isinstance(name, str) and text.startswith(f"{name} "):
        text = "--" + name.replace("_", "-") + text[len(name) :]
    return flag_hints(text)


def whole_number(minimum: int, what: str) -> Callable[[str], int]:
    """Return an argparse type accepting integers ``>= minimum``.

    Examples
    --------
    >>> whole_number(0, "seed")("7")
    7
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            msg = f"{what} '{text}' is not a whole number >= {minimum}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def real_number(what: str, low: float = 0.0, high: float = math.inf, low_open: bool = True) -> Callable[[str], float]:
    """Return an argparse type accepting finite numbers in ``(low, high]``.

    With ``low_open=False`` the range is ``[low, high]``.

    Examples
    --------
    >>> real_number("ratio", 0.0, 1.0, low_open=False)("0.5")
    0.5
    """

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = value > low if low_open else value >= low
        if not (above and value <= high and math.isfinite(value)):
            if high == math.inf:
                bounds = "positive" if (low, low_open) == (0.0, True) else f"finite, >= {low:g}"
                msg = f"{what} '{text}' is not a {bounds} number"
            else:
                bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
                msg = f"{what} '{text}' is not a number in {bounds}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


#: ``--seed N``: a non-negative integer.
seed_type = whole_number(0, "seed")
#: Fractions such as coverage thresholds, in [0, 1].
ratio_type = real_number("fraction", 0.0, 1.0, low_open=False)
