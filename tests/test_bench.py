"""The benchmark at a tiny scale: its records, ratios and output files (not its speed)."""
import importlib.util
import json

import pytest

from vaecf.experiments import bench
from vaecf.cli import main

NO_PYTHON = "/nonexistent/python-with-cornac"
KEYS = {"scale", "threads", "epoch_s", "bound_s", "epoch_over_bound", "other_library",
        "other_epoch_s", "other_over_ours", "eval_s", "peak_gib", "epoch_bf16_s", "bound_bf16_s",
        "bf16_epoch_over_bound", "bf16_speedup", "other_over_ours_bf16"}


@pytest.fixture(scope="module")
def records():
    return bench.run_benchmark(scale=0.004, threads=1, repeats=1, other_python=NO_PYTHON,
                               progress=False)


def test_scaled_sizes_follow_the_named_sizes():
    assert bench.scaled_size("ml-20m", 0.5)["n_users"] == round(136_677 / 2)
    assert bench.scaled_size("ml-20m", 0.5)["n_items"] == 20_720 // 2
    tiny = bench.scaled_size("ml-1m", 0.001)
    assert (tiny["n_users"], tiny["n_items"]) == (bench.MIN_USERS, bench.MIN_ITEMS)
    with pytest.raises(ValueError, match="scale"):
        bench.scaled_size("ml-20m", 1.5)
    with pytest.raises(ValueError, match="Unknown benchmark size"):
        bench.scaled_size("ml-100m", 0.1)


def test_one_record_per_size_with_every_key(records):
    assert [r["size"] for r in records] == list(bench.BENCH_SIZES)
    for r in records:
        assert KEYS <= r.keys()
        assert r["scale"] == 0.004 and r["threads"] == 1
        assert r["batches"] == -(-r["train_users"] // bench.BATCH_SIZE)
        for key in ("epoch_s", "bound_s", "epoch_bf16_s", "bound_bf16_s", "adam_s", "eval_s",
                    "gen_s", "peak_gib"):
            assert r[key] > 0


def test_ratios_come_from_the_measured_times(records):
    for r in records:
        assert r["epoch_over_bound"] == pytest.approx(r["epoch_s"] / r["bound_s"], rel=1e-12)
        assert r["bf16_epoch_over_bound"] == pytest.approx(r["epoch_bf16_s"] / r["bound_bf16_s"])
        assert r["bf16_speedup"] == pytest.approx(r["epoch_s"] / r["epoch_bf16_s"])
        # The Python given for Cornac does not exist: the comparison says so, no number.
        assert r["other_library"] is None and r["other_epoch_s"] is None
        assert r["other_over_ours"] is None and NO_PYTHON in r["other_skipped"]
        assert r["other_over_ours_bf16"] is None
    made_up = {"epoch_s": 2.0, "bound_s": 0.5, "other_epoch_s": 5.0}
    assert bench.ratios(made_up) == {"epoch_over_bound": 4.0, "other_over_ours": 2.5}
    made_up.update(epoch_bf16_s=1.0, bound_bf16_s=0.25)
    assert bench.ratios(made_up) == {"epoch_over_bound": 4.0, "other_over_ours": 2.5,
                                     "bf16_epoch_over_bound": 4.0, "bf16_speedup": 2.0,
                                     "other_over_ours_bf16": 5.0}


def test_table_shows_every_size_and_the_skipped_comparison(records):
    table = bench.format_bench_table(records)
    assert "ml-20m" in table and "ml-1m" in table
    assert "skipped" in table
    first = f"{records[0]['epoch_over_bound']:.2f}"
    assert first in table.splitlines()[2]
    bf16_row = next(line for line in table.splitlines() if line.startswith("ml-20m") and
                    f"{records[0]['bf16_speedup']:.2f}" in line)
    assert f"{records[0]['bf16_epoch_over_bound']:.2f}" in bf16_row


def test_a_python_without_cornac_is_reported_not_fatal():
    import sys

    import numpy as np
    import scipy.sparse as sp

    train = sp.csr_matrix(np.eye(4, dtype=np.float32))
    answer = bench._other_epoch(sys.executable, train, threads=1, repeats=1, seed=0)
    assert answer["other_epoch_s"] is None and "could not run Cornac" in answer["other_skipped"]
    skipped = bench._other_epoch(None, train, 1, 1, 0, "skipped (--no-other)")
    assert skipped["other_epoch_s"] is None and skipped["other_skipped"] == "skipped (--no-other)"


def test_no_other_makes_no_environment_and_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VAECF_BENCH_PYTHON", raising=False)
    monkeypatch.setenv("VAECF_BENCH_ENV", str(tmp_path / "env"))
    if importlib.util.find_spec("cornac") is None:
        assert bench.find_other_python(make=False) == (None, "skipped (--no-other)")
    assert not (tmp_path / "env").exists()
    assert main(["bench", "--no-other", "--other-python", NO_PYTHON]) == 2
    assert "give one of the two" in capsys.readouterr().err


def test_command_line_writes_the_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--scale", "0.002", "--repeats", "1", "--threads", "1",
                 "--other-python", NO_PYTHON, "--out", str(out)])
    assert code == 0
    saved = json.loads(out.read_text())
    assert [r["size"] for r in saved] == list(bench.BENCH_SIZES)
    assert all(KEYS <= r.keys() for r in saved)
    assert "epoch s" in capsys.readouterr().out


def test_the_msd_size_on_request_with_part_of_each_epoch_timed():
    assert "msd" not in bench.BENCH_SIZES and "msd" in bench.KNOWN_SIZES
    size = bench.scaled_size("msd", 1.0)
    assert (size["n_users"], size["n_items"]) == (571_355, 41_140)
    [record] = bench.run_benchmark(scale=0.004, sizes=("msd",), threads=1, repeats=1,
                                   other_python=NO_PYTHON, progress=False, epoch_batches=1)
    assert record["size"] == "msd" and record["epoch_batches"] == 1 < record["batches"]
    assert record["eval_users"] == 2 * round(0.004 * 571_355 * 50_000 / 571_355)
    assert "from 1 of" in bench.format_bench_table([record])
    with pytest.raises(ValueError, match="epoch-batches"):
        bench.run_benchmark(scale=0.004, sizes=("msd",), epoch_batches=0, progress=False)
