"""HDF5 links by policy: what an HDF5 reader may follow out of the file it was given.

An HDF5 path can lead elsewhere without a word from h5py: a soft link (which
may loop), an external link into another file, a virtual dataset (VDS) whose
parts live in other files (a missing part reads as fill values, zeros), a
dataset whose raw data sit in external files, or a filter a plugin must
supply. :class:`LinkedFile` resolves paths one link at a time and refuses, by
default, everything that leaves the file, with one line naming the link and
its target; with ``allow_external_links`` it follows them, checks that every
target exists, and lists every other file it read (:attr:`LinkedFile.linked`)
so a sidecar can hash them. Soft-link loops and missing filters are always
errors.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from ..exceptions import InputError

__all__ = ["LinkedFile", "external_links_allowed", "set_external_links"]

#: Soft links followed along one path before it counts as a loop.
MAX_SOFT_LINKS = 32
#: What to pass to follow links (the command line prints ``--allow-external-links``).
ALLOW_HINT = "pass allow_external_links=True to follow it and record the files it reads"

_allowed: bool | None = None


def set_external_links(allowed: bool | None) -> None:
    """Set whether HDF5 readers follow links out of their file in this process (None: default, no)."""
    global _allowed
    _allowed = allowed


def external_links_allowed() -> bool:
    """Return the process-wide policy set by :func:`set_external_links` (default False)."""
    return bool(_allowed)


class LinkedFile:
    """An open h5py file whose datasets are reached under the link policy.

    Parameters
    ----------
    h5file : h5py.File
        The open file.
    path : str
        Its path, for messages and for resolving relative link targets.
    allow_external_links : bool or None
        Follow external links, virtual datasets and external raw storage;
        None takes :func:`external_links_allowed`.

    Attributes
    ----------
    linked : list of str
        Every other file a resolved path read from, in the order met.
    """

    def __init__(self, h5file: Any, path: str, allow_external_links: bool | None = None) -> None:
        self.file, self.path = h5file, path
        self.allow = external_links_allowed() if allow_external_links is None else bool(allow_external_links)
        self.linked: list[str] = []
        self._external_files: list[Any] = []

    def close(self) -> None:
        """Close the file and every file its external links opened.

        A dataset reached through an external link keeps its own file open
        for as long as the object lives, after its parent file is closed.
        """
        for other in self._external_files:
            other.close()
        self.file.close()

    def where(self, hdf5_path: str) -> str:
        """Name ``hdf5_path`` of this file, as messages do."""
        return f"'{self.path}': '{hdf5_path}'"

    def _refuse_unless_allowed(self, hdf5_path: str, what: str) -> None:
        """Refuse ``what`` (a link out of the file, in words) unless the policy follows links."""
        if not self.allow:
            msg = f"{self.where(hdf5_path)} {what} by default; {ALLOW_HINT}"
            raise InputError(msg, self.path)

    def get(self, hdf5_path: str) -> Any:
        """Return the object at ``hdf5_path`` (None if absent), following links as the policy allows.

        Raises
        ------
        InputError
            For a soft-link loop, a dangling link, or a link out of the file
            that the policy refuses (or whose target is missing).
        """
        h5py = _h5py()
        parts = [p for p in hdf5_path.split("/") if p]
        current, i, hops, trail = "/", 0, 0, []
        while i < len(parts):
            here = posixpath.join(current, parts[i])
            try:
                group = self.file[current]
                link = group.get(parts[i], getlink=True) if isinstance(group, h5py.Group) else None
            except (KeyError, RuntimeError, OSError, ValueError) as exc:
                msg = f"{self.where(hdf5_path)} cannot be resolved at '{here}' ({exc})"
                raise InputError(msg, self.path) from None
            if link is None:
                if trail:
                    last = trail[-1].split(" -> ")[-1]
                    msg = (
                        f"{self.where(hdf5_path)} is a link to {last}, which does not exist; "
                        "repair the link or point it at the dataset"
                    )
                    raise InputError(msg, self.path)
                return None
            if isinstance(link, h5py.SoftLink):
                hops += 1
                trail.append(f"'{here}' -> '{link.path}'")
                if hops > MAX_SOFT_LINKS:
                    msg = (
                        f"{self.where(hdf5_path)} goes through soft links that loop "
                        f"({', '.join(trail[:2])}, ...); repair the links"
                    )
                    raise InputError(msg, self.path)
                target = posixpath.normpath(posixpath.join(current, link.path))
                parts = [p for p in target.split("/") if p] + parts[i + 1 :]
                current, i = "/", 0
                continue
            if isinstance(link, h5py.ExternalLink):
                return self._external(hdf5_path, here, link, parts[i + 1 :])
            current, i = here, i + 1
        try:
            return self.file[current]
        except (KeyError, RuntimeError, OSError, ValueError) as exc:
            msg = f"{self.where(hdf5_path)} cannot be opened ({exc})"
            raise InputError(msg, self.path) from None

    def _external(self, hdf5_path: str, here: str, link: Any, rest: list[str]) -> Any:
        target = f"'{link.filename}:{link.path}'"
        self._refuse_unless_allowed(
            hdf5_path, f"goes through the external link '{here}' -> {target}, which is not followed"
        )
        full = posixpath.join(here, *rest) if rest else here
        try:
            obj = self.file.get(full)
        except (KeyError, RuntimeError, OSError, ValueError) as exc:
            obj, problem = None, str(exc)
        else:
            problem = "the target does not exist"
        if obj is None:
            msg = f"{self.where(hdf5_path)}: the external link '{here}' -> {target} cannot be followed ({problem})"
            raise InputError(msg, self.path)
        self._note(obj.file.filename)
        self._external_files.append(obj.file)
        return obj

    def _note(self, filename: str) -> None:
        real = os.path.realpath(filename)
        if real != os.path.realpath(self.path) and real not in self.linked:
            self.linked.append(real)

    def check_dataset(self, dset: Any, hdf5_path: str) -> None:
        """Refuse what reading ``dset`` would need from outside the file, or could not decode.

        Raises
        ------
        InputError
            For a virtual dataset or external raw storage the policy refuses or
            whose files are missing, and for a filter that is not available.
        """
        if dset.is_virtual:
            self._check_virtual(dset, hdf5_path)
        external = dset.external
        if external:
            names = [os.fsdecode(name) for name, _, _ in external]
            shown = ", ".join(repr(n) for n in names[:3])
            self._refuse_unless_allowed(
                hdf5_path, f"keeps its data in the external file(s) {shown}, which are not read"
            )
            for name in names:
                found = self._find(name)
                if found is None:
                    msg = f"{self.where(hdf5_path)} keeps its data in '{name}', which does not exist"
                    raise InputError(msg, self.path)
                self._note(found)
        self._check_filters(dset, hdf5_path)

    def _check_virtual(self, dset: Any, hdf5_path: str) -> None:
        sources = dset.virtual_sources()
        first = f"'{sources[0].file_name}:{sources[0].dset_name}'" if sources else "none"
        self._refuse_unless_allowed(
            hdf5_path, f"is a virtual dataset of {len(sources)} mapped part(s) (first: {first}), which is not followed"
        )
        for source in sources:
            if source.file_name == ".":
                continue
            found = self._find(source.file_name)
            problem = None if found is not None else "which does not exist"
            if found is not None:
                problem = _dataset_problem(found, source.dset_name)
            if problem:
                msg = (
                    f"{self.where(hdf5_path)} is a virtual dataset mapping '{source.dset_name}' "
                    f"of '{source.file_name}', {problem}; HDF5 would read that part as fill "
                    "values (zeros): restore the file"
                )
                raise InputError(msg, self.path)
            self._note(found)

    def _find(self, name: str) -> str | None:
        """Find the file a link target names: beside this file first, then in the working folder."""
        if os.path.isabs(name):
            return name if os.path.isfile(name) else None
        for folder in (os.path.dirname(os.path.abspath(self.path)), os.getcwd()):
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate
        return None

    def _check_filters(self, dset: Any, hdf5_path: str) -> None:
        h5py = _h5py()
        plist = dset.id.get_create_plist()
        for k in range(plist.get_nfilters()):
            code, _, _, name = plist.get_filter(k)
            if not h5py.h5z.filter_avail(code):
                label = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
                msg = (
                    f"{self.where(hdf5_path)} is compressed with HDF5 filter {code}"
                    f"{f' ({label})' if label else ''}, which is not available here; install its "
                    "plugin (e.g. pip install hdf5plugin) or set HDF5_PLUGIN_PATH"
                )
                raise InputError(msg, self.path)


def _dataset_problem(filename: str, dset_name: str) -> str | None:
    """Why dataset ``dset_name`` of ``filename`` cannot supply a virtual part, or None."""
    h5py = _h5py()
    try:
        with h5py.File(filename, "r") as other:
            obj = other.get(dset_name)
            return None if isinstance(obj, h5py.Dataset) else "which holds no such dataset"
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        return f"which cannot be read ({exc})"


def _h5py() -> Any:
    """Import h5py on first use (it is slow to import, and only HDF5 files need it)."""
    import h5py

    return h5py
