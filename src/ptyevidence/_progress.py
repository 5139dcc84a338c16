"""Progress bars that appear only on a terminal and only for long passes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress_bar"]

#: Seconds a pass must run before its bar is drawn.
PROGRESS_DELAY = 1.0


class _Silent:
    def update(self, n: int = 1) -> None:
        """Ignore progress."""


@contextmanager
def progress_bar(total: int, description: str, enabled: bool | None = None) -> Iterator[Any]:
    """Yield an object with ``update(nbytes)``; draws a bar on a terminal.

    Parameters
    ----------
    total : int
        Total bytes the pass will process.
    description : str
        Label shown left of the bar.
    enabled : bool or None
        Force on/off; None means "when standard error is a terminal".
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    with tqdm(
        total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
        delay=PROGRESS_DELAY, leave=False, file=sys.stderr,
    ) as bar:
        yield bar
