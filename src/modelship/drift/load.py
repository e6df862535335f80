"""Reading reference and current data: CSV, Parquet or JSON lines.

Files are read with pyarrow (never through pandas). A Parquet file is read
column by column when the check takes each column: only its footer is read
up front, so at most one Arrow column per worker thread is ever in memory
and each is released as soon as it is copied into a float64 array (numeric,
sorted in place) or counted (categorical). Text files are read block by
block and held as Arrow arrays until the check takes them one at a time.
Peak memory of a Parquet check is about three columns' worth per worker
thread (one sorted side, the other side's Arrow column and its copy),
whatever the number of columns.

Every problem with the input raises `DataError` with one line naming the file
and column, so the stage can turn it into a usage error (exit 2).
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl",
}
BLOCK_SIZE = 16 << 20  # bytes of text per CSV/JSON batch


class DataError(ValueError):
    """The data cannot be compared as given; the message says why and where."""


@dataclass
class Loaded:
    """One data set, column by column: Arrow chunks in memory or, for Parquet,
    read from the file when asked for.

    `columns` holds the columns in memory; a Parquet column not among them is
    read by `arrow` on each call (safe from several threads at once: each read
    opens its own reader over the footer parsed once).
    """

    path: Path
    rows: int
    columns: dict[str, list[pa.Array]] = field(default_factory=dict)
    types: dict[str, pa.DataType] = field(default_factory=dict)
    parquet: ParquetColumns | None = None
    sizes: dict[str, int] = field(default_factory=dict)  # bytes of each column taken

    @property
    def names(self) -> list[str]:
        return list(self.types)

    def arrow(self, name: str) -> pa.ChunkedArray:
        chunks = self.columns.get(name)
        if chunks is None and self.parquet is not None:
            column = self.parquet.read(name)
        else:
            column = pa.chunked_array(self.columns[name], type=self.types[name])
        self.sizes[name] = column.nbytes
        return column

    def release(self, name: str) -> None:
        """Drop the column's data from memory (a Parquet column is read again if asked)."""
        self.columns.pop(name, None)


def file_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    raise DataError(f"{path.name}: unknown file type; use one of {', '.join(sorted(FORMATS))}")


def _sniff(path: Path, fmt: str) -> None:
    """Refuse a file whose content is not what its extension says."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a data file") from None
    if path.name.lower().endswith(".gz"):
        if not head.startswith(b"\x1f\x8b"):
            raise DataError(f"{path.name}: the name ends in .gz but the file is not gzip data")
        with gzip.open(path, "rb") as handle:
            head = handle.read(4096)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise DataError(
                f"{path.name}: the extension says Parquet but the file does not start with "
                f"Parquet's magic bytes (it looks like {_looks_like(head)})"
            )
        return
    if not head.strip():
        raise DataError(f"{path.name}: the file is empty")
    if head.startswith(b"PAR1") or b"\x00" in head:
        raise DataError(
            f"{path.name}: the extension says {fmt.upper()} but the file is binary "
            f"(it looks like {_looks_like(head)})"
        )
    first = head.lstrip()[:1]
    if fmt == "jsonl" and first != b"{":
        raise DataError(
            f"{path.name}: the extension says JSON lines but the first line is not a JSON "
            f"object (it looks like {_looks_like(head)})"
        )
    if fmt == "csv" and first in (b"{", b"["):
        raise DataError(
            f"{path.name}: the extension says CSV but the file looks like JSON; "
            "name it .jsonl if it holds one JSON object per line"
        )


def _looks_like(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "Parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip data"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (e.g. xlsx)"
    if b"\x00" in head:
        return "binary data"
    stripped = head.lstrip()[:1]
    if stripped in (b"{", b"["):
        return "JSON"
    return "text (CSV?)"


def _batches(path: Path, fmt: str, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    """Text formats, block by block (Parquet is read whole: `_read_parquet`)."""
    if fmt == "csv":
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(block_size=BLOCK_SIZE)
        # The streaming reader infers types from the first block only: read as
        # float64 what it took for integers (a later 1.5 is no error), and as
        # text what was empty there (decided after reading everything).
        probe = pacsv.open_csv(path, read_options=read)
        schema = probe.schema
        probe.close()
        types: dict[str, pa.DataType] = {}
        for item in schema:
            if pa.types.is_integer(item.type):
                types[item.name] = pa.float64()
            elif pa.types.is_null(item.type):
                types[item.name] = pa.string()
        convert = pacsv.ConvertOptions(
            column_types=types,
            include_columns=[c for c in columns if c in schema.names] if columns else None,
            strings_can_be_null=True,
        )
        reader = pacsv.open_csv(path, read_options=read, convert_options=convert)
        yield from _translated(reader, path, schema.names)
        return
    import pyarrow.json as pajson

    reader = pajson.open_json(path, read_options=pajson.ReadOptions(block_size=BLOCK_SIZE))
    yield from _translated(reader, path, reader.schema.names)


_CSV_COLUMN = re.compile(r"In CSV column #(\d+): .*conversion error to (\w+): invalid value '(.*)'")
_JSON_COLUMN = re.compile(r"Column\(/([^)]*)\) changed from (\w+) to (\w+)")


def _translated(reader: Any, path: Path, names: Sequence[str]) -> Iterator[pa.RecordBatch]:
    try:
        yield from reader
    except pa.ArrowInvalid as err:
        text = str(err)
        match = _CSV_COLUMN.search(text)
        if match:
            index, _type, value = match.groups()
            name = names[int(index)] if int(index) < len(names) else f"#{index}"
            raise DataError(
                f"{path.name}: column '{name}' holds text {value[:40]!r} where the first rows "
                "hold numbers; fix the value or list the column in `categorical`"
            ) from None
        match = _JSON_COLUMN.search(text)
        if match:
            name, before, after = match.groups()
            raise DataError(
                f"{path.name}: column '{name}' changes from {before} to {after} values "
                "part way through; fix the data or list the column in `categorical`"
            ) from None
        raise DataError(f"{path.name}: cannot be read as {_describe(path)}: {text}") from None


def _describe(path: Path) -> str:
    return {"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON lines"}[file_format(path)]


@dataclass(frozen=True)
class ParquetColumns:
    """A Parquet file's columns, each read on its own when asked for."""

    path: Path
    metadata: Any  # pyarrow.parquet.FileMetaData, parsed once
    dictionary: tuple[str, ...]  # text columns read dictionary-encoded, as stored

    def read(self, name: str) -> pa.ChunkedArray:
        """One column, read and decoded by the calling thread alone.

        No Arrow thread pool (`use_threads=False`): the check already reads
        columns in parallel, and a whole-file read in one call holds every
        column in memory at once, with the pools' and allocator's overhead
        on top (about 60 MiB on the first read, whatever the file's size).
        """
        import pyarrow.parquet as pq

        try:
            with pq.ParquetFile(
                self.path,
                metadata=self.metadata,
                read_dictionary=list(self.dictionary),
                pre_buffer=False,
            ) as reader:
                return reader.read(columns=[name], use_threads=False).column(0)
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError(
                f"{self.path.name}: column '{name}' cannot be read: {_one_line(err)}"
            ) from None


def _read_parquet(path: Path, columns: Sequence[str] | None) -> Loaded:
    """The file's footer: row count and column types; the data stays in the file.

    Text columns are read dictionary-encoded as stored: counting categories
    then needs no string per row. `ParquetFile`, not `read_table`: the latter
    imports pyarrow.dataset, a few tenths of a second of start-up a single
    file does not need.
    """
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as plain:
            metadata = plain.metadata
            schema = plain.schema_arrow
        text = tuple(
            f.name for f in schema if is_text_type(f.type) and not pa.types.is_dictionary(f.type)
        )
        with pq.ParquetFile(path, metadata=metadata, read_dictionary=list(text)) as reader:
            schema = reader.schema_arrow
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{path.name}: not a readable Parquet file: {_one_line(err)}") from None
    loaded = Loaded(path, metadata.num_rows, parquet=ParquetColumns(path, metadata, text))
    for item in schema:
        if columns is None or item.name in columns:
            loaded.types[item.name] = item.type
    return loaded


def _one_line(err: Exception) -> str:
    """Arrow's message with its line breaks folded: the error is one line."""
    return " ".join(str(err).split())


def read(path: Path, columns: Sequence[str] | None = None) -> Loaded:
    """Read a file into per-column chunks; `columns` limits what is kept."""
    fmt = file_format(path)
    _sniff(path, fmt)
    if fmt == "parquet":
        return _read_parquet(path, columns)
    loaded = Loaded(path, 0)
    try:
        for batch in _batches(path, fmt, columns):
            if not loaded.types:
                for item in batch.schema:
                    loaded.types[item.name] = item.type
                    loaded.columns[item.name] = []
            loaded.rows += batch.num_rows
            for name, array in zip(batch.schema.names, batch.columns, strict=True):
                same = array.type == loaded.types[name]
                unified = array if same else _unify(path, name, loaded.types[name], array)
                loaded.columns[name].append(unified)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{path.name}: cannot be read as {_describe(path)}: {err}") from None
    return loaded


def _unify(path: Path, name: str, want: pa.DataType, array: pa.Array) -> pa.Array:
    # JSON batches infer types one by one: an all-null batch, or ints then floats.
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), want)
    try:
        return array.cast(want)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(
            f"{path.name}: column '{name}' changes type from {want} to {array.type} "
            "part way through; fix the data or list the column in `categorical`"
        ) from None


# -- column kinds -------------------------------------------------------------------
def is_numeric_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


def is_text_type(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return is_text_type(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def text_to_numbers(data: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column as float64 when every non-empty value is a number, else None."""
    if pa.types.is_dictionary(data.type):
        data = data.cast(data.type.value_type)
    try:
        return pc.cast(data, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def first_non_number(data: pa.ChunkedArray) -> str:
    if pa.types.is_dictionary(data.type):
        data = data.cast(data.type.value_type)
    for chunk in data.chunks:
        for value in chunk.to_pylist():
            if value is None:
                continue
            try:
                float(value)
            except (TypeError, ValueError):
                return str(value)
    return ""


def numbers(array: pa.Array) -> Any:
    """A primitive Arrow array as numpy, nulls as NaN (floats) - without pandas.

    `Array.to_numpy` imports pandas, seconds on a cold start; the buffer does not.
    """
    if array.null_count:
        array = pc.fill_null(array.cast(pa.float64()), math.nan)
    name = str(array.type)
    dtype = np.dtype(
        {"double": "float64", "float": "float32", "halffloat": "float16"}.get(name, name)
    )
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def as_float_column(data: pa.ChunkedArray, out: Any) -> None:
    """Write a numeric column into `out` (float64), missing values as NaN."""
    offset = 0
    for chunk in data.chunks:
        if pa.types.is_null(chunk.type):
            values = np.full(len(chunk), np.nan)
        elif pa.types.is_floating(chunk.type) or pa.types.is_integer(chunk.type):
            values = numbers(chunk)  # integers convert as they are written to `out`
        else:
            values = numbers(chunk.cast(pa.float64()))
        out[offset : offset + len(values)] = values
        offset += len(values)
