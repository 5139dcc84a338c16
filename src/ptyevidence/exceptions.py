"""Every exception ptyevidence raises on purpose.

The command line maps them to exit codes by their ``exit_code``: 2 (the input or the environment cannot
be used) for all but :class:`ContractError`, which gives 1 (the input was read and breaks its contract).
Suspicious but legal input is not an exception: it is a ``"warning"`` finding of the report that found it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "PARAMETER_HINT",
    "ClusterLostError",
    "ContractError",
    "ExpressionError",
    "FixtureCheckFailed",
    "FixtureUnusable",
    "InputError",
    "MemoryBudgetError",
    "MissingExtraError",
    "MissingName",
    "NotebookExecutionError",
    "OutputError",
    "PipelineError",
    "PipelineUnavailableError",
    "PtyEvidenceError",
    "TorchNotInstalledError",
    "UsageError",
]


#: A library parameter named in a message, ``name=value`` starting a word: ``True`` or ``...`` (a flag
#: alone), a quoted word, a bare word. The command line and the notebooks rewrite it in their own terms.
PARAMETER_HINT = re.compile(r"(?<![^\s(])([a-z][a-z0-9_]*)=(True|\.\.\.|'[^'\s]*'|[^\s'(),;]+)")


class PtyEvidenceError(Exception):
    """Base class of every error raised on purpose by ptyevidence."""

    exit_code = 2


class InputError(PtyEvidenceError, ValueError):
    """An input file cannot be used: missing, unreadable, corrupt or malformed.

    Parameters
    ----------
    message : str
        One line saying what is wrong, where, and what to do.
    path : str or None
        The offending file, when there is one.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class UsageError(PtyEvidenceError, ValueError):
    """Arguments that cannot work together or are out of range."""


class OutputError(PtyEvidenceError, OSError):
    """An output cannot be written: the disk is full, a quota is reached, an I/O error...

    An :class:`OSError` too, so callers catching those still catch it.

    Parameters
    ----------
    message : str
        One line naming the operation, the file and the reason.
    path : str or None
        The output.
    operation : str
        What was being done (``write``, ``rename a temporary file onto``...).
    """

    def __init__(self, message: str, path: str | None = None, operation: str = "") -> None:
        super().__init__(message)
        self.path, self.operation = path, operation


class MemoryBudgetError(PtyEvidenceError, MemoryError):
    """An operation would need more memory than the configured budget."""


class ContractError(PtyEvidenceError, ValueError):
    """A dataset breaks its contract.

    Parameters
    ----------
    message : str
        Summary line.
    findings : list
        The :class:`ptyevidence.Finding` objects of severity ``"error"``.
    path : str or None
        The dataset that was validated.
    """

    exit_code = 1

    def __init__(self, message: str, findings: list[Any] | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.findings = list(findings or [])
        self.path = path


class TorchNotInstalledError(PtyEvidenceError, ImportError):
    """PyTorch is needed for this operation and cannot be imported (exit code 2)."""


class MissingExtraError(PtyEvidenceError, ImportError):
    """An optional extra (``ptychodus``) is needed to read a format and is not installed (exit code 2).

    Attributes
    ----------
    extra : str
        Name of the extra.
    """

    def __init__(self, message: str, extra: str = "") -> None:
        super().__init__(message)
        self.extra = extra


class NotebookExecutionError(PtyEvidenceError):
    """A notebook stopped with an error; the partial executed notebook is kept.

    Attributes
    ----------
    notebook : str
        Notebook file name.
    cell : int or None
        Execution count (``In [n]``) of the failing cell, when known.
    executed : str
        Path of the partial executed notebook.
    """

    def __init__(self, message: str, notebook: str = "", cell: int | None = None, executed: str = "") -> None:
        super().__init__(message)
        self.notebook, self.cell, self.executed = notebook, cell, executed


class ClusterLostError(PtyEvidenceError, ConnectionError):
    """The dask scheduler went away before every audit task finished."""


class PipelineUnavailableError(InputError):
    """The interpreter cannot import PtychoPINN, TensorFlow or PyTorch."""


class PipelineError(InputError):
    """A pipeline raised, crashed or ran out of time on the fixture."""


class ExpressionError(ValueError):
    """The expression is not valid in this language, or failed to evaluate."""


class MissingName(ExpressionError):
    """A name (or ``namespace.name``) the expression uses is not defined.

    Attributes
    ----------
    name : str
        The dotted name, e.g. ``file.diffraction``.
    namespace : str
        The namespace it was looked up in (empty for top-level names).
    """

    def __init__(self, name: str, namespace: str = "") -> None:
        where = f" in '{namespace}'" if namespace else ""
        super().__init__(f"'{name}' is not defined{where}")
        self.name = name
        self.namespace = namespace


class FixtureCheckFailed(AssertionError):
    """A fixture does not match its record (or was regenerated); the message is the table."""


class FixtureUnusable(Exception):
    """A fixture or its sidecar cannot be used at all; the message says why."""
