"""Reading an uploaded contact file: is it a CSV or an XLSX workbook we can read
(format, text encoding, delimiter, a row estimate), and its rows as lists of text,
streamed so that only one row is in memory. Anything that makes the whole file
unusable raises ImportFileError with a message for the person importing.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

MAX_COLUMNS = 200
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
SAMPLE_BYTES = 64 * 1024


class ImportFileError(Exception):
    """The file cannot be imported at all; the message is for the person importing."""


def max_upload_bytes() -> int:
    return int(getattr(settings, "CONTACTS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def inspect_file(path: Path) -> dict[str, Any]:
    """Format, encoding, delimiter and a row estimate, or ImportFileError saying why not."""
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ImportFileError("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return _inspect_xlsx(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "This is an old Excel file (.xls). Open it in Excel and save it as an Excel "
            "Workbook (.xlsx) or as CSV UTF-8, then upload that."
        )
    if head.startswith(b"%PDF"):
        raise ImportFileError("This is a PDF, not a spreadsheet. Upload a CSV or .xlsx file.")
    encoding, rows = _scan_text(path, head)
    sample = head.decode(encoding, errors="ignore")
    if encoding.startswith("utf-8"):
        sample = sample.lstrip("\ufeff")
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > len(sample) / 100:
        raise ImportFileError(
            "This file is not a spreadsheet (it holds binary data). Upload a CSV or .xlsx file."
        )
    delimiter = _sniff_delimiter(sample)
    info = {"format": "csv", "encoding": encoding, "delimiter": delimiter, "rows": rows}
    first = next(iter(read_rows(path, info)), [])
    if len(first) > MAX_COLUMNS:
        raise ImportFileError(
            f"The file has {len(first)} columns; at most {MAX_COLUMNS} can be read."
        )
    return info


def _scan_text(path: Path, head: bytes) -> tuple[str, int]:
    """Reads the whole file once: is it UTF-8 throughout, and how many lines has it."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with open(path, "rb") as f:
            return "utf-16", sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    if b"\x00" in head:
        raise ImportFileError(
            "This file is not a spreadsheet (it holds binary data, or it is UTF-16 text "
            "without a byte-order mark). Save it as CSV UTF-8 and upload it again."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = last = 0
    bad_line = 0  # the first line that is not UTF-8
    seen_utf8 = cp1252_undefined = False  # UTF-8 letters anywhere; bytes cp1252 lacks
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            if not bad_line:
                try:
                    seen_utf8 = not decoder.decode(block).isascii() or seen_utf8
                except UnicodeDecodeError as exc:
                    bad_line = lines + block[: exc.start].count(b"\n") + 1
                    seen_utf8 = seen_utf8 or not block[: exc.start].isascii()
            if bad_line and not seen_utf8:
                seen_utf8 = UTF8_LETTER.search(block) is not None
            cp1252_undefined = cp1252_undefined or CP1252_UNDEFINED.search(block) is not None
            lines += block.count(b"\n")
            last = block[-1]
    if not bad_line:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_line = lines + 1
    rows = lines + (0 if last == ord("\n") else 1)
    if not bad_line:
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), rows
    if seen_utf8:
        raise ImportFileError(
            f"The file mixes text encodings: line {bad_line:,} is not UTF-8 but other lines "
            "are. Open it in your spreadsheet, save it as CSV UTF-8 and upload it again."
        )
    # Not UTF-8 at all: the usual export of Excel in Western Europe and the Americas.
    return ("latin-1" if cp1252_undefined else "cp1252"), rows


# An accented letter as UTF-8 (two bytes) would be two odd symbols in Windows-1252.
UTF8_LETTER = re.compile(rb"[\xc3\xc5][\x80-\xbf]")
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def _sniff_delimiter(sample: str) -> str:
    lines = sample.splitlines()[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    best, best_score = ",", (0.0, 1)
    for candidate in (",", ";", "\t", "|"):
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate) if row]
        if not widths or max(widths) < 2:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) / len(widths), common)
        if common > 1 and score > best_score:
            best, best_score = candidate, score
    return best


def _inspect_xlsx(path: Path) -> dict[str, Any]:
    import openpyxl

    try:
        with open(path, "rb") as f:
            book = openpyxl.load_workbook(f, read_only=True, data_only=True)
            try:
                if not book.worksheets:
                    raise ImportFileError("The workbook has no worksheet.")
                sheet = book.worksheets[0]
                rows = sheet.max_row or 0
                first = next(sheet.iter_rows(max_row=1, values_only=True), ())
                name = sheet.title
            finally:
                book.close()
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(
            "This is a ZIP file but not an Excel workbook (.xlsx) that can be read."
        ) from exc
    if not any(v not in (None, "") for v in first):
        raise ImportFileError("The first row of the first worksheet is empty.")
    if len(first) > MAX_COLUMNS:
        raise ImportFileError(
            f"The sheet has {len(first)} columns; at most {MAX_COLUMNS} can be read."
        )
    return {"format": "xlsx", "sheet": name, "rows": rows}


def read_rows(path: Path, info: dict[str, Any]) -> Iterator[list[str]]:
    """Every row of the file, header included, as lists of text; one row in memory."""
    if info["format"] == "xlsx":
        yield from _read_xlsx(path)
        return
    with open(path, encoding=info["encoding"], newline="", errors="strict") as text:
        reader = csv.reader(text, delimiter=info["delimiter"])
        while True:
            try:
                yield next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # A broken quote or a huge field: this row is unreadable, the rest may be fine.
                yield [UNREADABLE, str(exc)]
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"The file is not {info['encoding']} text after line {reader.line_num:,}."
                ) from exc


# The row read_rows yields for a line the CSV reader could not parse: [UNREADABLE, why].
UNREADABLE = "\x00unreadable"


def _read_xlsx(path: Path) -> Iterator[list[str]]:
    import openpyxl

    with open(path, "rb") as f:
        book = openpyxl.load_workbook(f, read_only=True, data_only=True)
        try:
            for values in book.worksheets[0].iter_rows(values_only=True):
                yield [_cell_text(v) for v in values]
        finally:
            book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        # Excel keeps long numbers (phone numbers typed as numbers) as floats.
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def preview(path: Path, info: dict[str, Any], rows: int = 6) -> list[list[str]]:
    found = []
    for row in read_rows(path, info):
        found.append(row)
        if len(found) >= rows:
            break
    return found
