"""``ptyevidence audit PATH...``: validate every dataset of an archive on a dask cluster."""

from __future__ import annotations

import argparse
import sys

from ._common import add_json, call_with_args, print_report, whole_number

#: Library words that are no ``name=value`` hint, as the command says them (cli.flag_hints does the rest).
_FLAGS = {"patterns": "--glob", "leave out the scheduler": "leave out --scheduler"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``audit`` subcommand."""
    p = sub.add_parser(
        "audit",
        help="validate every dataset under some folders, in parallel and resumably",
        description="Validate every dataset file found under PATH (files, or folders of *.npz, "
        "*.cxi, *.h5, *.hdf5 files) against one or more contracts, on a local dask cluster of "
        "worker processes or on an existing one (--scheduler). Results go to DIR/audit.sqlite "
        "as they arrive; DIR/summary.{csv,jsonl,md,html} are written at the end, also when "
        "the audit is interrupted. Exit 0: every file passes; 1: some file fails a contract, "
        "cannot be read or crashed its worker; 2: usage error, no file could be checked, or "
        "the cluster was lost; 130: interrupted (rerun with --resume).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="dataset files and folders")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument(
        "--glob",
        action="append",
        metavar="PATTERN",
        help="file-name pattern for folders, repeatable; a pattern with '/' matches "
        "the path below the folder (default: *.npz *.cxi *.h5 *.hdf5)",
    )
    p.add_argument(
        "--contract",
        action="append",
        metavar="NAME|PATH",
        help="contract to check, repeatable (default: each file's by its format)",
    )
    engine = p.add_mutually_exclusive_group()
    engine.add_argument(
        "--workers",
        type=whole_number(1, "workers"),
        metavar="K",
        help="worker processes on this machine (default: the number of cores)",
    )
    engine.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="submit to an existing dask cluster (tcp://host:8786) whose workers see the files at the same paths",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="ptyevidence-audit",
        help="audit folder: results database and summary (default: ptyevidence-audit)",
    )
    again = p.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue the audit in DIR: skip files unchanged since their result"
    )
    again.add_argument("--force", action="store_true", help="discard an earlier audit in DIR")
    add_json(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..audit import audit
    from ..exceptions import UsageError

    try:
        summary = call_with_args(audit, args, contracts=args.contract, patterns=args.glob)
    except UsageError as exc:
        raise UsageError(_cli_words(str(exc))) from None
    print_report(summary, args.json)
    if summary.unfinished:
        print(
            f"ptyevidence: {_cli_words(summary.note)}: {len(summary.unfinished)} file(s) not "
            f"finished (listed in {args.out}/summary.csv); rerun with --resume to finish them",
            file=sys.stderr,
        )
    return summary.exit_code


def _cli_words(text: str) -> str:
    """Say a library message in the command's flags (``resume=True`` -> ``--resume``)."""
    from ..cli import flag_hints

    for param, flag in _FLAGS.items():
        text = text.replace(param, flag)
    return flag_hints(text)
