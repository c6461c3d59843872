"""Downloads that survive an outage: verified archive, nothing left behind, user files untouched.

Local HTTP and HTTPS servers on 127.0.0.1 stand in for GroupLens and the mirrors, each
serving a small ``ml-100k.zip`` built here in the release's exact layout. The test pins
that archive's SHA-256 in a patched copy of the release spec, and points the release's
source list (:data:`vaecf.data.sources.ARCHIVE_SOURCES`) at the local servers. Two
certificate authorities are made with ``trustme``: the test trusts one
(``REQUESTS_CA_BUNDLE``, as a user behind a company proxy would) and not the other, so
an untrusted certificate is a real TLS failure. Nothing reaches the internet.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import ssl
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import trustme

from vaecf.cli import main
from vaecf.data import DatasetUnavailable, load_movielens
from vaecf.data import movielens, sources

# Six users, ten items, in the exact u.data layout: user \t item \t rating \t timestamp.
U_DATA = "".join(f"{u}\t{i}\t{4 + (u + i) % 2}\t{881250949 + 10 * u + i}\n"
                 for u in range(1, 7) for i in range(1, 11)).encode()
GENRE_FLAGS = "|".join(["0"] * 19)
U_ITEM = "".join(f"{i}|Film {i} (1995)|01-Jan-1995||http://example.org/{i}|{GENRE_FLAGS}\n"
                 for i in range(1, 11)).encode("latin-1")


def make_zip(u_data: bytes = U_DATA, u_item: bytes = U_ITEM) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", u_data)
        archive.writestr("ml-100k/u.item", u_item)
        archive.writestr("ml-100k/README", b"fake release for tests\n")
    return buffer.getvalue()


RELEASE = make_zip()
# A well-formed archive of the same name that is not the release (one rating changed).
REPACKAGED = make_zip(u_data=U_DATA.replace(b"\t5\t", b"\t1\t", 1))


class FakeHost:
    """Serves ``files`` (name -> bytes) over HTTP, or HTTPS with ``certificate``, and
    records every path requested. ``truncate``: send only half of each body."""

    def __init__(self, files: dict, certificate=None, truncate: bool = False):
        self.files, self.requests = dict(files), []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                body = owner.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if truncate else body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            certificate.configure_cert(context)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/movielens"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def archive(self, name="ml-100k.zip") -> str:
        return f"{self.url}/{name}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def authorities(tmp_path_factory):
    """(trusted server certificate, untrusted server certificate, trusted CA file)."""
    trusted, stranger = trustme.CA(), trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "trusted.pem"
    trusted.cert_pem.write_to_path(str(bundle))
    return trusted.issue_cert("127.0.0.1"), stranger.issue_cert("127.0.0.1"), bundle


@pytest.fixture(autouse=True)
def local_network(monkeypatch, authorities):
    """Only the test's own authority is trusted, no proxy, no mirror of the user's."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authorities[2]))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(variable, "127.0.0.1,localhost")
    monkeypatch.delenv(sources.MIRROR_VARIABLE, raising=False)


@pytest.fixture
def hosts(authorities):
    """Start hosts on demand: ``hosts(files, tls="trusted"|"untrusted"|None)``."""
    started = []

    def start(files, tls=None, truncate=False):
        certificate = {"trusted": authorities[0], "untrusted": authorities[1], None: None}[tls]
        host = FakeHost(files, certificate, truncate).__enter__()
        started.append(host)
        return host

    yield start
    for host in started:
        host.__exit__(None, None, None)


def refusing_base() -> str:
    """A base URL on a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/movielens"


def use_sources(monkeypatch, *bases, archive: bytes = RELEASE, ratings: bytes = U_DATA):
    """Point ml-100k at these bases, with the fixture archive's hashes pinned."""
    spec = replace(movielens.MOVIELENS["ml-100k"],
                   archive_sha256=hashlib.sha256(archive).hexdigest(),
                   ratings_sha256=hashlib.sha256(ratings).hexdigest())
    monkeypatch.setitem(movielens.MOVIELENS, "ml-100k", spec)
    monkeypatch.setitem(sources.ARCHIVE_SOURCES, "ml-100k", tuple(bases))
    return spec


def listing(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def load(tmp_path, **kwargs):
    return load_movielens("ml-100k", data_dir=tmp_path, progress=False, **kwargs)


# ---------------------------------------------------------------- one source, the ordinary case
def test_good_download_is_verified_extracted_and_loaded(hosts, monkeypatch, tmp_path):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    table = load(tmp_path)
    assert len(table) == 60 and table.n_users == 6 and table.n_items == 10
    assert table.item_titles[3] == "Film 3 (1995)"
    assert table.provenance["status"] == "release"
    assert (tmp_path / "ml-100k.zip").read_bytes() == RELEASE
    assert listing(tmp_path) == ["ml-100k", "ml-100k.zip", "ml-100k/u.data", "ml-100k/u.item"]
    assert grouplens.requests == ["/movielens/ml-100k.zip"]
    load(tmp_path)  # a second call finds the extracted file and does not touch the network
    assert grouplens.requests == ["/movielens/ml-100k.zip"]


# ---------------------------------------------------------------- an outage: the mirrors
def test_primary_refusing_connection_falls_back_to_a_mirror(hosts, monkeypatch, tmp_path):
    mirror = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, refusing_base(), mirror.url)
    table = load(tmp_path)
    assert len(table) == 60 and table.provenance["status"] == "release"
    assert (tmp_path / "ml-100k.zip").read_bytes() == RELEASE
    assert mirror.requests == ["/movielens/ml-100k.zip"]


def test_untrusted_certificate_is_never_accepted_even_with_the_right_bytes(hosts, monkeypatch,
                                                                           tmp_path):
    """The primary serves the release itself, but behind a certificate nobody trusts."""
    impostor = hosts({"movielens/ml-100k.zip": RELEASE}, tls="untrusted")
    mirror = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, impostor.url, mirror.url)
    assert len(load(tmp_path)) == 60
    assert impostor.requests == []  # the TLS handshake failed: not one byte was asked for
    assert mirror.requests == ["/movielens/ml-100k.zip"]


def test_only_an_untrusted_source_fails_and_leaves_nothing(hosts, monkeypatch, tmp_path):
    impostor = hosts({"movielens/ml-100k.zip": RELEASE}, tls="untrusted")
    use_sources(monkeypatch, impostor.url)
    with pytest.raises(DatasetUnavailable, match=r"TLS certificate not trusted"):
        load(tmp_path)
    assert listing(tmp_path) == []


def test_mirror_serving_other_bytes_is_rejected_and_the_next_one_used(hosts, monkeypatch,
                                                                      tmp_path):
    repackaged = hosts({"movielens/ml-100k.zip": REPACKAGED}, tls="trusted")
    good = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, refusing_base(), repackaged.url, good.url)
    table = load(tmp_path)
    assert (tmp_path / "ml-100k.zip").read_bytes() == RELEASE
    assert (tmp_path / "ml-100k" / "u.data").read_bytes() == U_DATA
    assert table.provenance["status"] == "release"
    assert repackaged.requests == good.requests == ["/movielens/ml-100k.zip"]


def test_mirror_serving_other_bytes_leaves_nothing_behind(hosts, monkeypatch, tmp_path):
    repackaged = hosts({"movielens/ml-100k.zip": REPACKAGED}, tls="trusted")
    use_sources(monkeypatch, repackaged.url)
    with pytest.raises(DatasetUnavailable, match=r"wrong SHA-256"):
        load(tmp_path)
    assert listing(tmp_path) == []  # no archive, no temporary file, no extracted file


def test_download_broken_mid_way_leaves_nothing_behind(hosts, monkeypatch, tmp_path):
    broken = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted", truncate=True)
    use_sources(monkeypatch, broken.url)
    with pytest.raises(DatasetUnavailable, match=r"connection broken mid-download"):
        load(tmp_path)
    assert listing(tmp_path) == []


def test_all_sources_failing_list_every_url_and_the_manual_fallback(hosts, monkeypatch,
                                                                     tmp_path):
    refused = refusing_base()
    impostor = hosts({"movielens/ml-100k.zip": RELEASE}, tls="untrusted")
    empty = hosts({}, tls="trusted")
    repackaged = hosts({"movielens/ml-100k.zip": REPACKAGED}, tls="trusted")
    spec = use_sources(monkeypatch, refused, impostor.url, empty.url, repackaged.url)
    data_dir = tmp_path / "new" / "data"
    with pytest.raises(DatasetUnavailable) as raised:
        load(data_dir)
    message = str(raised.value)
    lines = message.splitlines()
    assert lines[0].startswith("Could not download ml-100k: every source failed")
    assert lines[1] == f"  {refused}/ml-100k.zip: connection refused"
    assert lines[2].startswith(f"  {impostor.archive()}: TLS certificate not trusted (")
    assert lines[3] == f"  {empty.archive()}: HTTP 404 Not Found"
    assert lines[4].startswith(f"  {repackaged.archive()}: wrong SHA-256 (")
    # The manual fallback: the archive's place and hash, or the ratings file's folder.
    assert f"download ml-100k.zip from one of these" in message
    assert f"its SHA-256 must be {spec.archive_sha256}" in message
    assert f"put the archive at {data_dir / 'ml-100k.zip'}" in message
    assert f"put 'u.data' from it in {data_dir / 'ml-100k'}/" in message
    for name in ("--data-dir", "--path", "DATA_PATH", "--mirror", sources.MIRROR_VARIABLE):
        assert name in message
    assert not (tmp_path / "new").exists()  # the folders made for the download are gone


def test_the_manual_fallback_works_as_it_says(hosts, monkeypatch, tmp_path):
    """An archive put where the error says is checked and extracted, with no download."""
    use_sources(monkeypatch, refusing_base())
    with pytest.raises(DatasetUnavailable, match=r"put the archive at"):
        load(tmp_path)
    (tmp_path / "ml-100k.zip").write_bytes(RELEASE)
    assert len(load(tmp_path)) == 60


# ---------------------------------------------------------------- a mirror of the user's
def test_users_mirror_from_the_environment_is_tried_first(hosts, monkeypatch, tmp_path):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    own = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    monkeypatch.setenv(sources.MIRROR_VARIABLE, own.url + "/")
    assert len(load(tmp_path)) == 60
    assert own.requests == ["/movielens/ml-100k.zip"] and grouplens.requests == []


def test_users_mirror_gets_the_same_hash_check(hosts, monkeypatch, tmp_path):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    own = hosts({"movielens/ml-100k.zip": REPACKAGED}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    assert (load(tmp_path, mirror=own.url).provenance["status"]) == "release"
    assert (tmp_path / "ml-100k.zip").read_bytes() == RELEASE
    assert own.requests == grouplens.requests == ["/movielens/ml-100k.zip"]


def test_cli_mirror_flag_is_tried_first(hosts, monkeypatch, tmp_path, capsys):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    own = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    main(["counts", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--heldout", "1",
          "--mirror", own.url])
    assert "ml-100k: 60 ratings, 6 users, 10 items" in capsys.readouterr().out
    assert own.requests == ["/movielens/ml-100k.zip"] and grouplens.requests == []


@pytest.mark.parametrize("bad", ["", "files.example.org/movielens", "ftp://example.org/ml",
                                 "https://"])
def test_a_mirror_that_is_not_an_http_url_is_refused(bad, monkeypatch, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--mirror.*https:// \(or http://\) URL"):
        load(tmp_path, mirror=bad)
    with pytest.raises(SystemExit):
        main(["counts", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--mirror", bad])
    assert "argument --mirror: expected an https://" in capsys.readouterr().err
    if bad:
        monkeypatch.setenv(sources.MIRROR_VARIABLE, bad)
        with pytest.raises(ValueError, match=sources.MIRROR_VARIABLE):
            load(tmp_path)
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- the source table itself
def test_every_release_has_grouplens_first_and_mirrors_only_where_a_hash_is_pinned():
    assert set(sources.ARCHIVE_SOURCES) == set(movielens.MOVIELENS)
    for name, spec in movielens.MOVIELENS.items():
        urls = sources.archive_urls(name, pinned=spec.archive_sha256 is not None,
                                    mirror="https://mine.example.org/ml/")
        if spec.archive_sha256 is None:
            assert urls == [f"{sources.GROUPLENS}/{name}.zip"]
            continue
        assert len(spec.archive_sha256) == 64 and int(spec.archive_sha256, 16) >= 0
        assert urls[0] == f"https://mine.example.org/ml/{name}.zip"
        assert urls[1] == f"{sources.GROUPLENS}/{name}.zip"
        assert sources.HUGGING_FACE in sources.ARCHIVE_SOURCES[name]
        assert all(url.startswith("https://") and url.endswith(f"/{name}.zip") for url in urls)
    # Cornac keeps ML-100K's u.data, not its archive: no source for ml-100k.zip.
    assert sources.CORNAC not in sources.ARCHIVE_SOURCES["ml-100k"]


def test_a_release_without_a_pinned_hash_never_uses_a_users_mirror(monkeypatch):
    monkeypatch.setenv(sources.MIRROR_VARIABLE, "https://mine.example.org/ml")
    with pytest.warns(UserWarning, match=r"not used for ml-latest-small"):
        urls = movielens._sources(movielens.MOVIELENS["ml-latest-small"], None)
    assert urls == [f"{sources.GROUPLENS}/ml-latest-small.zip"]


def test_a_release_without_a_pinned_hash_refuses_a_page_that_is_not_a_zip(hosts, monkeypatch,
                                                                           tmp_path):
    """ml-latest-small is taken as GroupLens serves it, but an error page is no archive."""
    grouplens = hosts({"movielens/ml-latest-small.zip": b"<html>Maintenance</html>"},
                      tls="trusted")
    monkeypatch.setitem(sources.ARCHIVE_SOURCES, "ml-latest-small", (grouplens.url,))
    with pytest.raises(DatasetUnavailable, match=r"ml-latest-small.zip is not a zip archive"):
        load_movielens("ml-latest-small", data_dir=tmp_path, progress=False)
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- files the user already has
def test_archive_with_wrong_ratings_file_leaves_nothing_behind(hosts, monkeypatch, tmp_path):
    """The archive matches its pinned hash but its ratings file is not the release's."""
    grouplens = hosts({"movielens/ml-100k.zip": REPACKAGED}, tls="trusted")
    use_sources(monkeypatch, grouplens.url, archive=REPACKAGED)
    with pytest.raises(DatasetUnavailable, match=r"does not match the published release"):
        load(tmp_path)
    assert listing(tmp_path) == []


def test_a_users_own_ratings_file_is_used_as_is(hosts, monkeypatch, tmp_path):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    (tmp_path / "ml-100k").mkdir()
    mine = "1\t1\t5\t1\n1\t2\t5\t1\n2\t1\t4\t1\n"  # not the release: must still be used
    (tmp_path / "ml-100k" / "u.data").write_text(mine)
    table = load(tmp_path)
    assert len(table) == 3
    np.testing.assert_array_equal(table.item_ids, [1, 2, 1])
    assert (tmp_path / "ml-100k" / "u.data").read_text() == mine
    assert grouplens.requests == []


def test_download_never_overwrites_a_users_item_file(hosts, monkeypatch, tmp_path):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    (tmp_path / "ml-100k").mkdir()
    mine = f"1|My own title|01-Jan-1995||http://example.org/1|{GENRE_FLAGS}\n".encode()
    (tmp_path / "ml-100k" / "u.item").write_bytes(mine)
    table = load(tmp_path)
    assert (tmp_path / "ml-100k" / "u.item").read_bytes() == mine
    assert table.item_titles == {1: "My own title"}
    assert (tmp_path / "ml-100k" / "u.data").read_bytes() == U_DATA


def test_a_foreign_archive_of_the_same_name_is_not_overwritten(hosts, monkeypatch, tmp_path):
    grouplens = hosts({"movielens/ml-100k.zip": RELEASE}, tls="trusted")
    use_sources(monkeypatch, grouplens.url)
    foreign = b"my own zip, not GroupLens'"
    (tmp_path / "ml-100k.zip").write_bytes(foreign)
    with pytest.raises(DatasetUnavailable, match=r"ml-100k.zip exists but is not GroupLens' "
                                                 r"ml-100k release.*left untouched"):
        load(tmp_path)
    assert (tmp_path / "ml-100k.zip").read_bytes() == foreign
    assert listing(tmp_path) == ["ml-100k.zip"]
    assert grouplens.requests == []


def test_offline_without_download_names_the_folder(tmp_path):
    with pytest.raises(DatasetUnavailable,
                       match=rf"put 'ratings.dat' .* in {tmp_path / 'ml-1m'}"):
        load_movielens("ml-1m", data_dir=tmp_path, download=False)
