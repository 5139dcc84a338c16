"""Subcommands of the ``ptyevidence`` command line, one module each.

A module here provides ``register(subparsers)`` that adds its parser and
sets ``func`` to a handler ``handler(args) -> int``. Handlers only parse,
call the library and print; heavy imports happen inside the handler.
"""
