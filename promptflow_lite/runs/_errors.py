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


def unwritable(run: str, what: str, exc: BaseException, *, file: object = None,
               kind: type[RunStoreError] = RunStoreError) -> RunStoreError:
    """The error that stops run ``run`` when ``what`` cannot be written (``exc``, e.g. a full disk): one message
    and one way on (``pfl run resume``), whichever file failed first."""
    reason = getattr(exc, "strerror", None) or str(exc.__cause__ or exc)  # the OS's or SQLite's own words
    return kind(f"Cannot write {what} ({reason}); the run stops here, the lines finished so far are kept.",
                file=str(file or getattr(exc, "filename", None) or "") or None,
                hint=f"free disk space (or raise the file size limit), then `pfl run resume {run}`.")


class KeyRejectedError(UserError):
    """The model endpoint refused the run's credentials line after line (HTTP 401/403): the run stopped."""
