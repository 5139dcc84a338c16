"""Find the dataset files an audit covers: named files, folders, optionally recursive."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence

from ..exceptions import UsageError

__all__ = ["DEFAULT_PATTERNS", "find_datasets"]

#: Names a folder's files must match when no pattern is given: the formats with a built-in reader.
DEFAULT_PATTERNS = ("*.npz", "*.cxi", "*.h5", "*.hdf5")


def find_datasets(
    paths: Iterable[str | os.PathLike],
    recursive: bool = False,
    patterns: Sequence[str] | None = None,
) -> list[str]:
    """Return the absolute paths of the dataset files under ``paths``, sorted, each once.

    A file named in ``paths`` is always included, whatever its name; a folder
    contributes the files directly in it (every level below with
    ``recursive``) whose names match one of ``patterns``. Hidden files and
    folders (names starting with ``.``) inside a folder are skipped.

    Parameters
    ----------
    paths : iterable of str or path
        Files and folders.
    recursive : bool
        Descend into sub-folders.
    patterns : sequence of str or None
        Shell patterns (``*.npz``) matched case-insensitively against a file's
        name, or against its path relative to the named folder when the
        pattern holds a ``/``; None means :data:`DEFAULT_PATTERNS`.

    Returns
    -------
    list of str

    Raises
    ------
    UsageError
        If a path does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ("b.npz", "a.NPZ", "notes.txt"):
    ...     open(os.path.join(root, name), "w").close()
    >>> [os.path.basename(p) for p in find_datasets([root])]
    ['a.NPZ', 'b.npz']
    """
    patterns = [p.lower() for p in (patterns or DEFAULT_PATTERNS)]
    found: dict[str, None] = {}
    for given in paths:
        path = os.path.abspath(os.fspath(given))
        if os.path.isdir(path):
            for name in _folder_files(path, recursive):
                rel = os.path.relpath(name, path).replace(os.sep, "/").lower()
                base = os.path.basename(rel)
                if any(fnmatch.fnmatchcase(rel if "/" in p else base, p) for p in patterns):
                    found[name] = None
        elif os.path.lexists(path):
            found[path] = None
        else:
            msg = f"'{os.fspath(given)}' does not exist; give dataset files or folders"
            raise UsageError(msg)
    return sorted(found)


def _folder_files(folder: str, recursive: bool) -> Iterable[str]:
    """Yield the non-hidden files of ``folder`` (and of its sub-folders with ``recursive``)."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(root, name)
