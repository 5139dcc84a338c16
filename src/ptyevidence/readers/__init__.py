"""Readers: open any dataset file as a :class:`Source` of named arrays.

:func:`open_source` picks the reader from the file's first bytes or name:
NPZ archives and CXI/HDF5 files are built in, :func:`register_reader` adds
others. Every reader returns an object that implements the :class:`Source`
protocol (:mod:`ptyevidence.readers.base`; :class:`SourceBase` holds the
defaults of a format that stores nothing beside its arrays), so validation, fixtures and
coverage never ask which format a file is. :class:`CxiSource` reads a CXI file lazily under the canonical keys
(``diffraction``, ``xcoords``, ``ycoords``...), :func:`read_cxi` loads it
whole into a dict.
"""

from .base import ArrayInfo, IntegrityCheck, Source
from .common import SourceBase
from .cxi import CxiSource, read_cxi
from .layout import LAYOUTS, canonical_shape, read_frames, resolve_layout, source_layout
from .memory import ArraySource
from .metadata import METADATA_KEY, metadata_array, read_metadata_member
from .npz import NpzSource
from .registry import default_contract_for, open_source, register_reader

__all__ = [
    "LAYOUTS",
    "METADATA_KEY",
    "ArrayInfo",
    "ArraySource",
    "CxiSource",
    "IntegrityCheck",
    "NpzSource",
    "Source",
    "SourceBase",
    "canonical_shape",
    "default_contract_for",
    "metadata_array",
    "open_source",
    "read_cxi",
    "read_frames",
    "read_metadata_member",
    "register_reader",
    "resolve_layout",
    "source_layout",
]
