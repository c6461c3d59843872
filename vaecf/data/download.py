"""Download one file from the first of several URLs that serves the expected bytes.

Each URL is fetched with ``requests``, TLS certificates always verified (against the
trusted authorities ``requests`` uses, or ``$REQUESTS_CA_BUNDLE``), and streamed through
:func:`vaecf.outputs.atomic_write` into a temporary file beside the target while its
SHA-256 is computed; the file is renamed to the target only if that SHA-256 is the
expected one, and a wrong or broken download is deleted at once. When every URL fails,
:class:`AllSourcesFailed` lists each one with the reason, in a few words.
"""
from __future__ import annotations

import hashlib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..outputs import atomic_write

__all__ = ["Attempt", "AllSourcesFailed", "WrongHash", "fetch_first", "why_it_failed"]

TIMEOUT_S = 30  # to connect, and between two blocks of the body


@dataclass(frozen=True)
class Attempt:
    """One URL that was tried and why it did not give the file."""

    url: str
    reason: str


class AllSourcesFailed(Exception):
    """No URL served the expected file; ``attempts`` says why for each one."""

    def __init__(self, attempts: list[Attempt]):
        self.attempts = attempts
        super().__init__("; ".join(f"{a.url}: {a.reason}" for a in attempts))


class WrongHash(ValueError):
    """A source served bytes whose SHA-256 is not the expected one."""

    def __init__(self, got: str):
        self.got = got
        super().__init__(f"SHA-256 {got}")


def fetch_first(urls: list[str], target: Path, sha256: str | None,
                progress: bool = True) -> str:
    """Fetch ``target`` from the first of ``urls`` that serves bytes with this SHA-256
    (``None``: any bytes) and return that URL.

    Raises :class:`AllSourcesFailed` when no URL gives the file; an error of the local
    disk (an ``OSError`` that is not a network error) stops at once.
    """
    import requests

    attempts = []
    for url in urls:
        try:
            _fetch(url, target, sha256, progress)
            return url
        except (requests.RequestException, WrongHash) as error:
            attempts.append(Attempt(url, why_it_failed(error)))
    raise AllSourcesFailed(attempts)


def _fetch(url: str, target: Path, sha256: str | None, progress: bool) -> None:
    """Stream one URL into ``target`` through a temporary file, checking its SHA-256."""
    import requests
    from tqdm.auto import tqdm

    if progress:
        print(f"Downloading {url}")
    with requests.get(url, stream=True, timeout=TIMEOUT_S) as response:
        response.raise_for_status()
        size = int(response.headers.get("content-length") or 0) or None

        def write(handle):
            digest = hashlib.sha256()
            with tqdm(total=size, unit="B", unit_scale=True, desc=urlsplit(url).netloc,
                      disable=not progress) as bar:
                for block in response.iter_content(chunk_size=1 << 16):
                    handle.write(block)
                    digest.update(block)
                    bar.update(len(block))
            if sha256 is not None and digest.hexdigest() != sha256:
                raise WrongHash(digest.hexdigest())

        atomic_write(target, write)


def _causes(error: BaseException):
    """``error`` and everything it wraps (arguments, ``reason``, cause and context)."""
    seen, queue = set(), [error]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        queue.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        for link in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(link, BaseException):
                queue.append(link)


def why_it_failed(error: BaseException) -> str:
    """The reason a download failed, in a few words: an untrusted or broken TLS
    certificate, an HTTP status, a refused connection, a wrong SHA-256, ..."""
    import requests

    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message or cause.reason})"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS error ({cause.reason or cause})"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}".rstrip()
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "host name not found"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "connection broken mid-download; the partial file was deleted"
    if isinstance(error, WrongHash):
        return (f"wrong SHA-256 ({error.got[:12]}…): not the release's archive; the download "
                "was deleted")
    return f"{type(error).__name__}: {error}"
