"""``ptyevidence contract show|list``: render contracts."""

from __future__ import annotations

import argparse

from ._common import emit_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``contract`` subcommand group."""
    p = sub.add_parser("contract", help="show or list contracts",
                       description="Show a contract as Markdown or JSON, or list the built-ins.")
    inner = p.add_subparsers(dest="contract_command", metavar="ACTION", required=True)
    show = inner.add_parser("show", help="render a contract",
                            description="Render a built-in contract or a contract file.")
    show.add_argument("contract", nargs="?", default="data001", metavar="NAME|PATH",
                      help="built-in name or JSON file (default: data001)")
    show.add_argument("--format", choices=("markdown", "json"), default="markdown",
                      help="output format (default: markdown)")
    show.set_defaults(func=_show)
    lst = inner.add_parser("list", help="list built-in contracts",
                           description="List the built-in contracts with their kind and title.")
    lst.set_defaults(func=_list)


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
