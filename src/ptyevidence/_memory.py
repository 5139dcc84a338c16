"""A memory budget that large reads are checked against before they start."""

from __future__ import annotations

import os

from .exceptions import MemoryBudgetError

__all__ = ["check_budget", "memory_budget", "set_memory_budget"]

#: Environment variable that sets the budget, in bytes or with a K/M/G suffix.
BUDGET_ENV = "PTYEVIDENCE_MEMORY_BUDGET"
#: Default budget: 8 GiB, a third of the reference 24 GiB machine.
DEFAULT_MEMORY_BUDGET = 8 * 2**30

_budget: int | None = None


def parse_size(text: str) -> int:
    """Parse ``"512M"``, ``"2G"`` or a plain byte count into bytes.

    Examples
    --------
    >>> parse_size("2G") == 2 * 2**30
    True
    """
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factors = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    factor = factors.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in factors else text
    try:
        value = float(number)
    except ValueError:
        msg = f"memory size '{text}' is not a number with an optional K/M/G/T suffix"
        raise ValueError(msg) from None
    if not 0 < value < float("inf"):  # also rejects "nan" and "inf"
        msg = f"memory size '{text}' must be a positive, finite number"
        raise ValueError(msg)
    return int(value * factor)


def memory_budget() -> int:
    """Return the budget in bytes: set explicitly, else from the environment."""
    if _budget is not None:
        return _budget
    env = os.environ.get(BUDGET_ENV)
    return parse_size(env) if env else DEFAULT_MEMORY_BUDGET


def set_memory_budget(nbytes: int | None) -> None:
    """Set the budget for this process (None restores the default)."""
    global _budget
    _budget = nbytes


def check_budget(nbytes: int, what: str) -> None:
    """Raise :class:`MemoryBudgetError` if ``nbytes`` exceeds the budget.

    Parameters
    ----------
    nbytes : int
        Bytes the operation is about to allocate.
    what : str
        The operation, for the message.
    """
    budget = memory_budget()
    if nbytes > budget:
        msg = (
            f"{what} needs {nbytes / 2**20:.0f} MiB, over the memory budget of "
            f"{budget / 2**20:.0f} MiB; raise it with --memory-budget or "
            f"{BUDGET_ENV}, or use a smaller subset"
        )
        raise MemoryBudgetError(msg)
