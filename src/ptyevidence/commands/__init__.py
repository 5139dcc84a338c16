"""Subcommands of the ``ptyevidence`` command line, one module each.

A module here provides ``register(subparsers)``, which adds its parser with ``func`` set to a handler
``handler(args) -> int``. Handlers only parse, call the library and print; heavy imports happen inside.
"""
