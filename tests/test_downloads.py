"""Safe downloads: verified archive, nothing left behind on failure, user files untouched.

A local HTTP server on 127.0.0.1 stands in for GroupLens; ``MOVIELENS["ml-100k"]`` is
pointed at a small archive built here, with its real md5 and the ratings file's sha256.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vaecf.data import DatasetUnavailable, load_movielens
from vaecf.data import movielens

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


class FakeGroupLens:
    """Serves ``files`` (name -> bytes) and records every path requested."""

    def __init__(self, files: dict):
        self.files, self.requests = files, []
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
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeGroupLens({"ml-100k.zip": make_zip()}) as fake:
        yield fake


def point_spec_at(monkeypatch, url: str, archive: bytes = None, ratings: bytes = U_DATA):
    archive = make_zip() if archive is None else archive
    spec = replace(movielens.MOVIELENS["ml-100k"], url=url,
                   archive_hash="md5:" + hashlib.md5(archive).hexdigest(),
                   ratings_sha256=hashlib.sha256(ratings).hexdigest())
    monkeypatch.setitem(movielens.MOVIELENS, "ml-100k", spec)
    return spec


def listing(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_good_download_is_verified_extracted_and_loaded(server, monkeypatch, tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip")
    table = load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert len(table) == 60 and table.n_users == 6 and table.n_items == 10
    assert table.item_titles[3] == "Film 3 (1995)"
    assert (tmp_path / "ml-100k" / "u.data").read_bytes() == U_DATA
    assert listing(tmp_path) == ["ml-100k", "ml-100k.zip", "ml-100k/u.data", "ml-100k/u.item"]
    assert server.requests == ["/ml-100k.zip"]
    # A second call finds the extracted file and does not touch the network.
    load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert server.requests == ["/ml-100k.zip"]


def test_corrupt_download_leaves_nothing_behind(server, monkeypatch, tmp_path):
    spec = point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip")
    monkeypatch.setitem(movielens.MOVIELENS, "ml-100k",
                        replace(spec, archive_hash="md5:" + "0" * 32))
    with pytest.raises(DatasetUnavailable, match=r"corrupt.*removed"):
        load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert listing(tmp_path) == []  # no archive, no temporary file, no extracted file


def test_archive_with_wrong_ratings_file_leaves_nothing_behind(server, monkeypatch, tmp_path):
    """The archive matches its hash but its ratings file is not the release's."""
    tampered = make_zip(u_data=U_DATA.replace(b"\t5\t", b"\t1\t", 1))
    server.files["ml-100k.zip"] = tampered
    point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip", archive=tampered)
    with pytest.raises(DatasetUnavailable, match=r"does not match the published release"):
        load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert listing(tmp_path) == []


def test_missing_data_dir_is_not_left_behind(server, monkeypatch, tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/nowhere.zip")
    data_dir = tmp_path / "new" / "data"
    with pytest.raises(DatasetUnavailable):
        load_movielens("ml-100k", data_dir=data_dir, progress=False)
    assert not data_dir.exists()


def test_server_404_says_where_to_put_the_file(server, monkeypatch, tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/missing.zip")
    with pytest.raises(DatasetUnavailable, match=r"Could not download ml-100k") as error:
        load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert "404" in str(error.value)
    assert f"put 'u.data' in {tmp_path / 'ml-100k'}" in str(error.value)
    assert listing(tmp_path) == []


def test_connection_refused_says_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    point_spec_at(monkeypatch, f"http://127.0.0.1:{port}/ml-100k.zip")
    with pytest.raises(DatasetUnavailable, match=r"Offline\? .*put 'u.data' in"):
        load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert listing(tmp_path) == []


def test_a_users_own_ratings_file_is_used_as_is(server, monkeypatch, tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip")
    (tmp_path / "ml-100k").mkdir()
    mine = "1\t1\t5\t1\n1\t2\t5\t1\n2\t1\t4\t1\n"  # not the release: must still be used
    (tmp_path / "ml-100k" / "u.data").write_text(mine)
    table = load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert len(table) == 3
    np.testing.assert_array_equal(table.item_ids, [1, 2, 1])
    assert (tmp_path / "ml-100k" / "u.data").read_text() == mine
    assert server.requests == []


def test_download_never_overwrites_a_users_item_file(server, monkeypatch, tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip")
    (tmp_path / "ml-100k").mkdir()
    mine = f"1|My own title|01-Jan-1995||http://example.org/1|{GENRE_FLAGS}\n".encode()
    (tmp_path / "ml-100k" / "u.item").write_bytes(mine)
    table = load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert (tmp_path / "ml-100k" / "u.item").read_bytes() == mine
    assert table.item_titles == {1: "My own title"}
    assert (tmp_path / "ml-100k" / "u.data").read_bytes() == U_DATA


def test_a_foreign_archive_of_the_same_name_is_not_overwritten(server, monkeypatch, tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip")
    foreign = b"my own zip, not GroupLens'"
    (tmp_path / "ml-100k.zip").write_bytes(foreign)
    with pytest.raises(DatasetUnavailable, match=r"ml-100k.zip exists but is not the ml-100k "
                                                 r"release.*left untouched"):
        load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert (tmp_path / "ml-100k.zip").read_bytes() == foreign
    assert listing(tmp_path) == ["ml-100k.zip"]
    assert server.requests == []


def test_a_verified_archive_already_there_is_extracted_without_download(server, monkeypatch,
                                                                         tmp_path):
    point_spec_at(monkeypatch, f"{server.url}/ml-100k.zip")
    (tmp_path / "ml-100k.zip").write_bytes(make_zip())
    table = load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert len(table) == 60
    assert server.requests == []


def test_offline_without_download_names_the_folder(tmp_path):
    with pytest.raises(DatasetUnavailable,
                       match=rf"put 'ratings.dat' .* in {tmp_path / 'ml-1m'}"):
        load_movielens("ml-1m", data_dir=tmp_path, download=False)
