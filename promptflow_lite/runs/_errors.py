"""Errors of batch runs: bad data or column mapping, unknown or conflicting runs, an unwritable run store."""

from __future__ import annotations

from promptflow_lite.errors import UserError


class DataError(UserError):
    """The ``--data`` file or folder cannot be read (missing, empty, malformed)."""


class EmptyInputsData(DataError):
    """The data holds no rows at all."""


class InputMappingError(UserError):
    """The column mapping does not fit the data, the base run or the flow."""


class RunExistsError(UserError):
    """A run with that name already exists."""


class RunNotFoundError(UserError):
    """No run with that name in this PFL_HOME."""


class InvalidRunStatusError(UserError):
    """The run is in a status that does not allow the operation (e.g. resuming a running run)."""


class RunStoreError(UserError):
    """The run folder or the run index cannot be written (e.g. the disk is full); finished lines are kept."""


class KeyRejectedError(UserError):
    """The model endpoint refused the run's credentials line after line (HTTP 401/403): the run stopped."""
