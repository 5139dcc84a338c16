"""``ptyevidence contract show|list|diff``: render, list and compare contracts."""

from __future__ import annotations

import argparse

from ._common import add_json, emit_json, print_report


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``contract`` subcommand group."""
    p = sub.add_parser(
        "contract",
        help="show, list or compare contracts",
        description="Show a contract as Markdown or JSON, list the built-ins, or compare two contracts.",
    )
    inner = p.add_subparsers(dest="contract_command", metavar="ACTION", required=True)
    show = inner.add_parser(
        "show", help="render a contract", description="Render a built-in contract or a contract file."
    )
    show.add_argument(
        "contract",
        nargs="?",
        default="data001",
        metavar="NAME|PATH",
        help="built-in name or JSON file (default: data001)",
    )
    show.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="output format (default: markdown)"
    )
    show.set_defaults(func=_show)
    lst = inner.add_parser(
        "list", help="list built-in contracts", description="List the built-in contracts with their kind and title."
    )
    lst.set_defaults(func=_list)
    diff = inner.add_parser(
        "diff",
        help="compare two contracts: what changed, breaking or compatible",
        description="List the fields, dtypes, shapes, aliases, dimensions, rules and layout "
        "that differ between OLD and NEW, each classed breaking (a dataset that passed OLD can "
        "fail NEW) or compatible. Exit 0: no breaking change; 1: breaking changes; 2: a "
        "contract cannot be read.",
    )
    diff.add_argument("old", metavar="OLD", help="built-in name or JSON file")
    diff.add_argument("new", metavar="NEW", help="built-in name or JSON file")
    add_json(diff)
    diff.set_defaults(func=_diff)


def _show(args: argparse.Namespace) -> int:
    from ..contract.model import load_contract
    from ..contract.render import contract_markdown

    contract = load_contract(args.contract)
    if args.format == "json":
        emit_json(contract.to_dict())
    else:
        print(contract_markdown(contract), end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..contract.model import list_contracts, load_contract

    for name in list_contracts():
        c = load_contract(name)
        print(f"{name:28s} {c.kind:9s} {c.title}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ..diff.contracts import diff_contracts

    result = diff_contracts(args.old, args.new)
    return print_report(result, args.json, ok=not result.breaking)
