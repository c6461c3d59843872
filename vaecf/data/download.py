"""Download one file from the first of several URLs that serves the expected bytes.

Each URL is fetched with :mod:`pooch` (``requests`` underneath, TLS certificates always
verified against the system's trusted authorities, or ``$REQUESTS_CA_BUNDLE``) into a
temporary file beside the target, which is renamed to the target only once its SHA-256
is the expected one; a wrong or broken download is deleted at once. When every URL
fails, :class:`AllSourcesFailed` lists each one with the reason, in a few words.
"""
from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Attempt", "AllSourcesFailed", "fetch_first", "why_it_failed"]


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


def fetch_first(urls: list[str], target: Path, sha256: str | None,
                progress: bool = True) -> str:
    """Fetch ``target`` from the first of ``urls`` that serves bytes with this SHA-256
    (``None``: any bytes) and return that URL.

    ``target``'s folder must exist and ``target`` must not. Raises
    :class:`AllSourcesFailed` when no URL gives the file; an error of the local disk
    (``OSError`` that is not a network error) stops at once.
    """
    import pooch
    import requests

    attempts = []
    for url in urls:
        bar = _ProgressBar(url) if progress else False
        try:
            pooch.retrieve(url, known_hash=f"sha256:{sha256}" if sha256 else None,
                           fname=target.name, path=target.parent, progressbar=bar)
            return url
        except (requests.RequestException, ValueError) as error:
            attempts.append(Attempt(url, why_it_failed(error)))
        finally:
            if bar:
                bar.close()
    raise AllSourcesFailed(attempts)


class _ProgressBar:
    """A tqdm.auto bar that appears only once a source answers with the file (pooch sets
    ``total`` then), so a source that fails at once leaves no empty bar."""

    def __init__(self, url: str):
        self.label, self.bar = urlsplit(url).netloc, None

    @property
    def total(self):
        return self.bar.total if self.bar is not None else None

    @total.setter
    def total(self, total):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=self.label)

    def update(self, n):
        self.bar.update(n)

    def reset(self):
        self.bar.reset()

    def close(self):
        if self.bar is not None:
            self.bar.close()


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
    if isinstance(error, ValueError) and "hash" in str(error).lower():
        got = re.search(r"got ([0-9a-fA-F]{16,})", str(error))
        return ("wrong SHA-256" + (f" ({got.group(1)[:12]}…)" if got else "")
                + ": not the release's archive; the download was deleted")
    return f"{type(error).__name__}: {error}"
