"""What a data file holds, judged by its first bytes: an archive, compressed data, or text.

MovieLens ships ML-100K and ML-1M in Latin-1 and ML-20M in UTF-8; a copy may have been
re-saved in either. Text is read as UTF-8 when it decodes as UTF-8, else as Latin-1
(which decodes any byte). Compressed files, archives and UTF-16/32 text are refused by
name, with the command that turns them into a file that can be read.
"""
from __future__ import annotations

import codecs
from pathlib import Path

__all__ = ["text_encoding", "read_text"]

_SAMPLE_BYTES = 1 << 16
_WIDE_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)
_COMPRESSED = (
    (b"\x1f\x8b", "gzip-compressed", "gunzip -k {path}"),
    (b"PK\x03\x04", "a zip archive", "unzip {path}"),
    (b"BZh", "bzip2-compressed", "bunzip2 -k {path}"),
    (b"\xfd7zXZ\x00", "xz-compressed", "unxz -k {path}"),
)


def text_encoding(path: str | Path, error: type[Exception] = ValueError) -> str:
    """``"utf-8-sig"``, ``"utf-8"`` or ``"latin-1"``, from the file's first 64 KiB.

    Raises ``error`` for compressed files, archives, UTF-16/32 text and binary files.
    """
    with open(path, "rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    for magic, what, command in _COMPRESSED:
        if head.startswith(magic):
            raise error(f"{path} is {what}, not a text file: unpack it first "
                        f"({command.format(path=path)}) and pass the file it gives.")
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            raise error(f"{path} is {encoding} text; save it as UTF-8 (e.g. iconv -f "
                        f"{encoding} -t UTF-8 {path} > ratings-utf8.csv) and pass that file.")
    if b"\x00" in head:
        raise error(f"{path} holds NUL bytes: it is a binary file, or UTF-16 text without a "
                    "byte-order mark. Save it as UTF-8 text and pass that file.")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SAMPLE_BYTES)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def read_text(path: str | Path, error: type[Exception] = ValueError) -> str:
    """The whole file as text, UTF-8 if all of it decodes so, else Latin-1."""
    path = Path(path)
    encoding = text_encoding(path, error)
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError:  # UTF-8 at the start, another encoding further on
        return path.read_text(encoding="latin-1")
