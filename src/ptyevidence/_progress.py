"""Progress bars that appear only on a terminal and only for long passes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress_bar"]

#: Seconds a pass must run before its bar is drawn.
PROGRESS_DELAY = 1.0
#: Columns and rows assumed when the terminal reports a size of 0.
_DEFAULT_SIZE = (80, 24)


class _Silent:
    def update(self, n: int = 1) -> None:
        """Ignore progress."""

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        """Ignore the status text."""


@contextmanager
def progress_bar(total: int, description: str, enabled: bool | None = None, unit: str = "B") -> Iterator[Any]:
    """Yield an object with ``update(n)`` and ``set_postfix_str(text)``; draws a bar on a terminal.

    Parameters
    ----------
    total : int
        Total bytes (or other units) the pass will process.
    description : str
        Label shown left of the bar.
    enabled : bool or None
        Force on/off; None means "when standard error is a terminal".
    unit : str
        ``"B"`` counts bytes (scaled to KiB, MiB...); any other unit, such as
        ``"file"``, is counted as it is, with its rate per second.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    scale = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
    with tqdm(
        total=total,
        desc=description,
        unit=unit,
        **scale,
        delay=PROGRESS_DELAY,
        leave=False,
        file=sys.stderr,
        **_fallback_size(),
    ) as bar:
        yield bar


def _fallback_size() -> dict[str, int]:
    """Return tqdm size arguments for terminals that report 0 x 0 (fresh pseudo-terminals).

    tqdm sizes its bar to the terminal; a reported 0 columns draws an empty
    bar and 0 rows hides it as "more hidden" (tqdm reads rows as -1).
    """
    import os

    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return {}
    out = {}
    if size.columns <= 0:
        out["ncols"] = _DEFAULT_SIZE[0]
    if size.lines <= 0:
        out["nrows"] = _DEFAULT_SIZE[1]
    return out
