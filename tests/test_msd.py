"""The Million Song Dataset loader on a train_triplets.txt written here in the release's
layout (hexadecimal user hashes, Echo Nest song ids, play counts), and the paper's MSD
protocol, whose item filter runs before its user filter, with counts worked out by hand."""
import hashlib
import warnings

import numpy as np
import pytest

from vaecf.data import RatingFileError, paper_split
from vaecf.data import msd, streaming
from vaecf.data.datasets import default_heldout, load_dataset, protocol_options
from vaecf.data.releases import ModifiedDataWarning


def _user(name):
    return hashlib.sha1(name.encode()).hexdigest()  # 40 hexadecimal digits, as in the release


def _song(n):
    return f"SO{'ABCDEFGHIJKLMNOP'[n % 16]}{n:05d}12A8C1{n % 997:04d}"  # 18 characters


POPULAR = [_song(k) for k in range(1, 7)]  # S1-S6
S7 = _song(7)
RARE = [_song(100 + k) for k in range(8)]  # each listened to by two V users


def triplets():
    """211 lines, grouped by user as in the release.

    * 30 users U listen to S1-S6 (U1 also to S7): 6 or 7 songs each;
    * 4 users V listen to S1-S3 and to four rare songs (each rare song has two V
      listeners); V1 and V2 also to S7. S7 has three listeners: U1, V1, V2.
    With at least 3 listeners per song and 5 songs per user, items first (the authors'
    order): the rare songs go, leaving each V user 3 or 4 songs, too few; U users stay. S7
    keeps its place though only U1 is left to listen to it (the filters run once).
    """
    lines = []
    for k in range(30):
        songs = POPULAR + ([S7] if k == 0 else [])
        lines += [(_user(f"U{k + 1}"), song, 1 + (7 * k + j) % 60) for j, song in enumerate(songs)]
    for k in range(4):
        songs = POPULAR[:3] + [RARE[(2 * k + j) % 8] for j in range(4)] + ([S7] if k < 2 else [])
        lines += [(_user(f"V{k + 1}"), song, 300 + j) for j, song in enumerate(songs)]
    return lines


def write_triplets(folder, newline="\n"):
    path = folder / "train_triplets.txt"
    path.write_bytes("".join(f"{u}\t{s}\t{c}{newline}" for u, s, c in triplets()).encode())
    return path


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModifiedDataWarning)
        return msd.read_msd(path, progress=False)


def test_triplets_become_numbered_clicks_with_play_counts(tmp_path):
    table = _read(write_triplets(tmp_path))
    rows = triplets()
    assert len(table) == len(rows) == 30 * 6 + 1 + 4 * 7 + 2
    assert table.n_users == 34 and table.n_items == 6 + 1 + 8
    assert table.user_ids[:7].tolist() == [0] * 7  # numbered in order of first appearance
    assert table.item_titles[int(table.item_ids[6])] == S7
    np.testing.assert_array_equal(table.ratings, [c for _, _, c in rows])
    assert table.click_threshold == 0.0 and (table.ratings > table.click_threshold).all()
    assert table.user_ids.dtype == np.int32 and table.ratings.dtype == np.float32


def test_blocks_share_one_numbering(tmp_path, monkeypatch):
    whole = _read(write_triplets(tmp_path))
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 100)  # about two lines per block
    pieces = _read(tmp_path)
    for column in ("user_ids", "item_ids", "ratings"):
        np.testing.assert_array_equal(getattr(whole, column), getattr(pieces, column))


def test_windows_line_ends_are_read(tmp_path):
    table = _read(write_triplets(tmp_path, newline="\r\n"))
    assert len(table) == 211 and table.item_titles[0] == POPULAR[0]


def test_the_msd_protocol_filters_songs_first_then_users(tmp_path):
    table = _read(write_triplets(tmp_path))
    assert protocol_options("msd") == {"min_user_clicks": 20, "min_item_users": 200}
    assert default_heldout("msd") == 50_000
    # The fixture is small: the same rules with 3 listeners per song and 5 songs per user.
    split = paper_split(table, n_heldout=2, seed=98765, min_user_clicks=5, min_item_users=3)
    assert split.protocol["users_after_filtering"] == 30  # the U users
    assert split.protocol["clicks_after_filtering"] == 30 * 6 + 1
    assert split.protocol["items_clicked"] == 7  # S1-S6 and S7
    assert split.protocol["items_before_filtering"] == 15
    assert split.n_items in (6, 7)  # S7 is an item only if U1 trains
    assert split.n_items == 6 + (0 in set(split.train_users))
    # Users first would have kept the V users (7 or 8 songs each before the song filter).
    no_item_filter = paper_split(table, n_heldout=2, seed=98765, min_user_clicks=5)
    assert no_item_filter.protocol["users_after_filtering"] == 34
    assert no_item_filter.protocol["clicks_after_filtering"] == 211


def test_the_release_is_recognised_by_its_counts(tmp_path, monkeypatch):
    path = write_triplets(tmp_path)
    with pytest.warns(ModifiedDataWarning, match="not the whole Million Song Dataset"):
        assert msd.read_msd(path, progress=False).provenance["status"] == "modified"
    monkeypatch.setattr(msd, "MSD_RELEASE_COUNTS", (211, 34, 15))
    table = msd.read_msd(tmp_path, progress=False)
    assert table.provenance["status"] == "release ratings" and table.name == "msd"


@pytest.mark.parametrize("line", [
    f"{_user('X')}\t{_song(1)}",  # no play count
    f"{_user('X')}\t{_song(1)}\t0",  # never played
    f"{_user('X')}\t{_song(1)}\t2.5",
    f"{_user('X')}\t{_song(1)}\t3\textra",
    f"{_user('X')},{_song(1)},3",  # commas
    "",
])
def test_a_wrong_line_is_named_by_file_and_number(tmp_path, monkeypatch, line):
    path = write_triplets(tmp_path)
    lines = path.read_text().splitlines()
    lines[150] = line
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 1000)
    with pytest.raises(RatingFileError, match=r"train_triplets\.txt, line 151: .*user<TAB>song"):
        _read(path)


def test_a_header_line_is_refused(tmp_path):
    path = write_triplets(tmp_path)
    path.write_text("user\tsong\tplay_count\n" + path.read_text())
    with pytest.raises(RatingFileError, match="line 1: 'user\\\\tsong\\\\tplay_count'"):
        _read(path)


def test_missing_or_zipped_file_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="Taste Profile"):
        msd.msd_file(tmp_path)
    (tmp_path / "train_triplets.txt.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(FileNotFoundError, match="unzip"):
        msd.msd_file(tmp_path)


def test_load_dataset_looks_in_the_data_folder(tmp_path):
    (tmp_path / "msd").mkdir()
    write_triplets(tmp_path / "msd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModifiedDataWarning)
        table, _ = load_dataset("msd", data_dir=tmp_path)
    assert len(table) == 211
