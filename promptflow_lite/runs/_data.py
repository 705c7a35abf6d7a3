"""Reading ``--data``: rows of a ``.jsonl``, ``.json``, ``.csv``, ``.tsv`` or ``.parquet`` file, or a folder of them.

Values stay as loaded (FLOW_FORMAT §4.2): JSON values keep their JSON types, CSV/TSV cells
are strings (``keep_default_na=False``, as promptflow), parquet values become plain Python.
Rows are read as a stream (:func:`iter_data`): JSONL a line at a time, CSV/TSV and parquet in
chunks of ``CHUNK_ROWS``, so a million-line file is never held whole (a ``.json`` document is).
JSON and JSONL are parsed with the standard library, not ``pandas.read_json``: pandas turns
date-like columns into timestamps and fills absent keys with NaN, and its errors do not say
which line is broken. Every problem names the file, and the line/column where there is one.
Bytes that are not UTF-8 do not stop a run: they are read as lone surrogates (``surrogateescape``),
so only the lines holding them fail, each with a message naming its input. A JSONL line that cannot
be read at all (not JSON, not an object, nested too deeply), an item of a ``.json`` list that is not an
object, or a CSV/TSV row with more fields than the header, is an :class:`UnreadableRow`: its line fails
alone, unless no line of the file can be read (then the file is the problem).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from promptflow_lite.runs._errors import DataError, EmptyInputsData
from promptflow_lite.tools._coercion import load_json
from promptflow_lite.tools._multimedia import resolve_image_paths

Row = dict[str, Any]
Warn = Callable[[str], None]

SUPPORTED = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
CHUNK_ROWS = 10_000  # rows of a CSV/TSV or parquet file read at a time
UNREADABLE = "__unreadable_line__"  # the only mapped input of a line whose data cannot be read: why


class UnreadableRow(dict):
    """A data line that cannot be read: no columns, and ``problem`` (naming the file and its line), with
    which the run's line fails alone."""

    def __init__(self, problem: DataError):
        super().__init__()
        self.problem = str(problem)


def load_data(path: str | Path, warn: Warn | None = None) -> list[Row]:
    """All rows of a data file, or of every data file under a folder (recursively, in path order).

    Raises ``DataError`` for a missing path or a malformed file, ``EmptyInputsData`` when there
    are no rows at all. ``warn`` receives notes about files in a folder that were skipped.
    """
    rows = list(iter_data(path, warn))
    if not rows:
        raise empty_data(path)
    return rows


def iter_data(path: str | Path, warn: Warn | None = None) -> Iterator[Row]:
    """The rows of :func:`load_data`, read lazily (a file is opened when its first row is wanted);
    no rows at all is not an error here."""
    source = check_data_path(path)
    if source.is_dir():
        for file in _data_files(source):
            yield from _read_in_folder(file, warn)
    else:
        yield from iter_file(source, unknown_as_jsonl=True)


def empty_data(path: str | Path) -> EmptyInputsData:
    return EmptyInputsData("The data has no rows.", file=str(Path(path).expanduser()),
                           hint="add at least one line of data (a .jsonl file holds one JSON object per line).")


def check_data_path(path: str | Path) -> Path:
    """The data path, expanded; ``DataError`` when it does not exist."""
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError("The data path does not exist.", file=str(source),
                        hint="check the --data path (relative paths are relative to the current folder).")
    return source


def columns(rows: Iterable[Row]) -> list[str]:
    """Every column name of ``rows``, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def read_file(file: Path, *, unknown_as_jsonl: bool = False) -> list[Row]:
    """Rows of one file, chosen by extension; an empty file has no rows."""
    return list(iter_file(file, unknown_as_jsonl=unknown_as_jsonl))


def iter_file(file: Path, *, unknown_as_jsonl: bool = False) -> Iterator[Row]:
    """The rows of :func:`read_file`, read as a stream."""
    suffix = file.suffix.lower()
    if file.stat().st_size == 0:
        return
    if suffix == ".jsonl" or (suffix not in SUPPORTED and unknown_as_jsonl):
        rows = _read_jsonl(file)
    elif suffix == ".json":
        rows = _read_json(file)
    elif suffix in (".csv", ".tsv"):
        rows = _read_table(file, sep="\t" if suffix == ".tsv" else ",")
    elif suffix == ".parquet":
        rows = _read_parquet(file)
    else:
        raise DataError(f"Unsupported data file type '{suffix}'.", file=str(file),
                        hint=f"use one of {', '.join(SUPPORTED)}.")
    base = file.parent
    for row in rows:
        yield row if type(row) is UnreadableRow else {key: resolve_image_paths(value, base) for key, value in row.items()}


def _data_files(folder: Path) -> list[Path]:
    hidden = lambda p: any(part.startswith(".") for part in p.relative_to(folder).parts)  # noqa: E731
    return sorted(p for p in folder.rglob("*") if p.is_file() and not hidden(p))


def _read_in_folder(file: Path, warn: Warn | None) -> Iterable[Row]:
    if file.suffix.lower() in SUPPORTED:
        return iter_file(file)
    try:
        rows = read_file(file, unknown_as_jsonl=True)
        if not any(type(row) is UnreadableRow for row in rows):  # a file of another kind may hold a JSON line
            return rows
    except DataError:
        pass
    if warn:
        warn(f"Ignored '{file}': not a data file ({', '.join(SUPPORTED)}).")
    return []


def _read_jsonl(file: Path) -> Iterator[Row]:
    """Rows of a JSON Lines file, read a line at a time. Lines end at ``\n``, ``\r\n`` or a lone ``\r``
    (not at U+2028, U+2029 or U+0085, which JSON strings may hold); each may start with a BOM (files joined
    end to end)."""
    rows, number, first_problem = 0, 0, None
    with _open_binary(file) as handle:
        for raw in handle:
            if number == 0 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise DataError("The file is UTF-16 text, not UTF-8.", file=str(file), hint="save the data file as UTF-8.")
            text = raw.decode("utf-8", "surrogateescape")
            text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith(("\n", "\r")) else text
            for line in text.split("\r"):
                number += 1
                line = line.removeprefix("\ufeff")
                if not line.strip():
                    continue
                value = _parse_line(line, file, number)
                if isinstance(value, DataError):
                    if first_problem is None and rows == 0 and _is_whole_json(_read_text(file)):
                        raise DataError(value.message, file=str(file), line=number, hint="the file holds one "
                                        "pretty-printed JSON document, not one object per line: rename it to .json "
                                        "or write each object on its own line.")
                    first_problem = first_problem or value
                    value = UnreadableRow(value)
                else:
                    rows += 1
                yield value
    if first_problem is not None and rows == 0:  # not one line could be read: the file is not JSON Lines
        raise first_problem


def _parse_line(line: str, file: Path, number: int) -> Row | DataError:
    """One JSONL line as a row, or the problem that makes it unreadable."""
    try:
        value = load_json(line)
    except RecursionError:
        return _too_deep(file, number)
    except json.JSONDecodeError as exc:
        return DataError(f"Invalid JSON at column {exc.colno}: {exc.msg}.", file=str(file), line=number,
                         hint="each line of a .jsonl file must be one complete JSON object.")
    if not isinstance(value, dict):
        return DataError(f"Expected a JSON object, got {type(value).__name__}.", file=str(file), line=number,
                         hint='write each line as an object of column values, e.g. {"question": "..."}.')
    return value


def _open_binary(file: Path):
    try:
        return open(file, "rb")
    except OSError as exc:
        raise DataError(f"Cannot read the file: {exc.strerror}.", file=str(file)) from None


def _too_deep(file: Path, line: int | None = None) -> DataError:
    from promptflow_lite.tools._coercion import MAX_NESTING

    return DataError("The JSON nests arrays/objects too deeply to be read.", file=str(file), line=line,
                     hint=f"write flatter JSON (flow inputs may nest up to {MAX_NESTING} levels).")


def _is_whole_json(text: str) -> bool:
    try:
        load_json(text)
    except (ValueError, RecursionError):
        return False
    return True


def _read_json(file: Path) -> list[Row]:
    try:
        data = load_json(_read_text(file))
    except RecursionError:
        raise _too_deep(file) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"Invalid JSON at column {exc.colno}: {exc.msg}.", file=str(file), line=exc.lineno,
                        hint="fix the JSON syntax (a .json data file holds a list of objects).") from None
    if isinstance(data, list):
        problems = [None if isinstance(item, dict) else DataError(
            f"Item {index} of the list is a {type(item).__name__}, not an object.", file=str(file),
            hint="a .json data file holds a list of objects, one per line of data.") for index, item in enumerate(data)]
        if data and all(problems):  # not one row: the file is the problem
            raise problems[0]
        return [item if problem is None else UnreadableRow(problem) for item, problem in zip(data, problems)]
    if isinstance(data, dict) and data and all(isinstance(v, (list, dict)) for v in data.values()):
        return _columns_to_rows(data, file)
    raise DataError("A .json data file must hold a list of objects (or an object of equally long columns).",
                    file=str(file), hint='write e.g. [{"question": "..."}, {"question": "..."}].')


def _columns_to_rows(data: dict[str, Any], file: Path) -> list[Row]:
    """pandas' "columns" orientation: ``{col: [v, ...]}`` or ``{col: {index: v}}``."""
    cells = {col: (dict(enumerate(v)) if isinstance(v, list) else v) for col, v in data.items()}
    index: dict[Any, None] = {}
    for values in cells.values():
        index.update(dict.fromkeys(values))
    lengths = {len(v) for v in cells.values()}
    if len(lengths) > 1:
        raise DataError("The columns of the .json data file have different lengths.", file=str(file),
                        hint="give every column the same number of values, or write a list of row objects.")
    return [{col: values[i] for col, values in cells.items() if i in values} for i in index]


def _read_table(file: Path, sep: str) -> Iterator[Row]:
    """Rows of a CSV/TSV file (pandas' fast parser); a row with more fields than the header is an
    :class:`UnreadableRow` (from the first row with two or more too many, pandas' python parser reads on)."""
    done = 0
    try:
        for row in _table_rows(file, sep):
            done += 1
            yield row
    except _TooManyFields:
        for index, row in enumerate(_table_rows(file, sep, lenient=True)):
            if index >= done:
                yield row


class _TooManyFields(Exception):
    """A row of the table has more fields than the fast parser takes."""


_EXTRA = "\x00an extra field\x00"  # a column after the header's: a row with one field too many fills it
_TOO_MANY = "\x00too many fields\x00"  # the first cell of a row with more fields (python parser)


def _table_rows(file: Path, sep: str, lenient: bool = False) -> Iterator[Row]:
    import pandas as pd

    def failed(exc: Exception) -> Exception:
        if not lenient and "fields in line" in str(exc):
            return _TooManyFields()
        return DataError(f"Cannot parse the file: {str(exc).strip()}", file=str(file),
                         hint="check quoting and that every row has as many fields as the header.")

    def unreadable(fields: int, header: int) -> UnreadableRow:
        return UnreadableRow(DataError(f"The row has {fields} fields, the header {header}.", file=str(file),
                                       hint="quote cells that hold the separator, or remove the extra fields."))

    options = {"sep": sep, "dtype": object, "keep_default_na": False, "encoding": "utf-8-sig",
               "encoding_errors": "surrogateescape"}
    if lenient:
        import csv

        csv.field_size_limit(2**31 - 1)  # the python parser's cells may be as big as the fast parser's
        options.update(engine="python", on_bad_lines=lambda fields: [_TOO_MANY + str(len(fields))])
    try:
        header = list(pd.read_csv(file, nrows=0, **options).columns)
        chunks = pd.read_csv(file, names=[*header, _EXTRA], header=None, skiprows=1, chunksize=CHUNK_ROWS, **options)
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise failed(exc) from None
    with chunks:
        while True:
            try:
                frame = next(chunks)
            except StopIteration:
                return
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                raise failed(exc) from None
            if not isinstance(frame.index, pd.RangeIndex):  # pandas silently made the first column the row index
                raise DataError("The first row after the header has two or more fields more than the header.",
                                file=str(file), hint="add the missing column names to the header, or remove the "
                                                     "extra fields.")
            extra = frame.pop(_EXTRA)
            rows = frame.to_dict(orient="records")
            if not lenient and not (extra.notna() & (extra != "")).any():
                yield from rows
                continue
            for row, more in zip(rows, extra):
                first = next(iter(row.values()), None)
                if isinstance(first, str) and first.startswith(_TOO_MANY):
                    yield unreadable(int(first[len(_TOO_MANY):]), len(header))
                elif more is not None and more == more and more != "":  # (NaN != NaN)
                    yield unreadable(len(header) + 1, len(header))
                else:  # the python parser leaves missing cells None, the fast one ""
                    yield {key: "" if value is None else value for key, value in row.items()}


def _read_parquet(file: Path) -> Iterator[Row]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("Reading parquet needs pyarrow.", file=str(file),
                        hint="pip install 'promptflow_lite[parquet]'.") from None
    try:
        source = pq.ParquetFile(file)
        schema = source.schema_arrow  # its pandas metadata restores the index, as pandas.read_parquet does
        batches = source.iter_batches(batch_size=CHUNK_ROWS)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            frame = pa.Table.from_batches([batch], schema=schema).to_pandas()
            for row in frame.to_dict(orient="records"):
                yield {key: plain(value) for key, value in row.items()}
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises its own error types
        raise DataError(f"Cannot read the parquet file: {exc}", file=str(file)) from None


def plain(value: Any) -> Any:
    """numpy scalars/arrays and pandas timestamps as plain Python values."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist())
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat") and type(value).__module__.startswith("pandas"):
        return value.isoformat()
    return value


def _read_text(file: Path) -> str:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read the file: {exc.strerror}.", file=str(file)) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("The file is UTF-16 text, not UTF-8.", file=str(file), hint="save the data file as UTF-8.")
    return data.decode("utf-8-sig", "surrogateescape")
