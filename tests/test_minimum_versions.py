"""The minimum-versions CI job (.ci/minimum-versions) pins exactly what pyproject.toml declares."""
from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_loader = importlib.machinery.SourceFileLoader("minimum_versions",
                                                str(ROOT / ".ci" / "minimum-versions"))
_spec = importlib.util.spec_from_loader("minimum_versions", _loader)
job = importlib.util.module_from_spec(_spec)
_loader.exec_module(job)


@pytest.mark.parametrize("requirement, expected", [
    ("torch>=2.1", ("torch", "2.1")),
    ("otter-grader>=7,<8", ("otter-grader", "7")),
    ("Otter_Grader >= 7.0 , < 8", ("otter-grader", "7.0")),
    ("ipywidgets[extra]>=7.7; python_version >= '3.9'", ("ipywidgets", "7.7")),
])
def test_lower_bound_reads_the_greater_or_equal_bound(requirement, expected):
    assert job.lower_bound(requirement) == expected


@pytest.mark.parametrize("requirement", ["tqdm", "numpy==1.22", "scipy<2", "pandas>=1.4,>=2"])
def test_a_requirement_without_exactly_one_lower_bound_is_refused(requirement):
    with pytest.raises(ValueError, match="exactly one '>=' lower bound"):
        job.lower_bound(requirement)


def test_the_highest_lower_bound_of_a_package_wins():
    pins = job.minimum_pins(["pandas>=1.4", "ipywidgets>=7.7", "pandas>=2", "ipywidgets>=8.1.5",
                             "numpy>=1.22"])
    assert pins == {"pandas": "2", "ipywidgets": "8.1.5", "numpy": "1.22"}
    assert job.constraints(pins) == "ipywidgets==8.1.5\nnumpy==1.22\npandas==2\n"


def test_a_lower_bound_that_is_not_a_plain_release_is_refused():
    with pytest.raises(ValueError, match="plain release"):
        job.minimum_pins(["torch>=2.1rc1"])


@pytest.mark.parametrize("a, b, same", [("2.1", "2.1.0", True), ("2.1.0", "2.1", True),
                                        ("2.1.2", "2.1", False), ("1.22", "1.22.0.0", True)])
def test_same_release_pads_with_zeros_as_pip_does(a, b, same):
    assert job.same_release(a, b) is same


def test_a_missing_interpreter_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit) as stop:
        job.interpreter("3.7")
    message = str(stop.value)
    assert "Python 3.7" in message and "is not installed" in message and "\n" not in message


def test_the_interpreter_is_found_under_pyenv(tmp_path, monkeypatch):
    for version in ("3.9.2", "3.9.18", "3.10.1"):
        (tmp_path / "versions" / version / "bin").mkdir(parents=True)
        (tmp_path / "versions" / version / "bin" / "python").touch()
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert job.interpreter("3.9") == tmp_path / "versions" / "3.9.18" / "bin" / "python"


def test_every_declared_requirement_has_a_minimum_the_pins_satisfy():
    """pyproject.toml as it is: a minimum Python, a lower bound on every requirement of
    every extra, and the tested pins in requirements.txt at or above each of them."""
    pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python, requirements = job.declared(ROOT / "pyproject.toml",
                                        tuple(project["optional-dependencies"]))
    assert python == project["requires-python"].removeprefix(">=")
    minimums = job.minimum_pins(requirements)
    pinned = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    pinned = {job.normalised(name): version for name, version in pinned.items()}
    for name, minimum in minimums.items():
        if name in pinned:
            assert job._release(pinned[name]) >= job._release(minimum), name


def test_an_unknown_extra_is_refused(tmp_path):
    pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.9"\ndependencies = ["numpy>=1.22"]\n')
    with pytest.raises(ValueError, match="no extra 'widgets'"):
        job.declared(tmp_path / "pyproject.toml", ("widgets",))


def test_the_versions_page_states_the_declared_minimums_and_the_pins():
    pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
    page = (ROOT / "docs" / "versions.md").read_text(encoding="utf-8")
    table = page.split("<!-- versions:start -->")[1].split("<!-- versions:end -->")[0]
    rows = {line.split("|")[1].split("(")[0].strip(): [cell.strip() for cell in
                                                        line.split("|")[2:4]]
            for line in table.strip().splitlines()[2:]}
    python, requirements = job.declared(ROOT / "pyproject.toml")
    assert rows.pop("Python")[0] == python
    pinned = {job.normalised(name): version for name, version in
              (line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
               if "==" in line and not line.startswith("#"))}
    assert {name: cells for name, cells in rows.items()} == {
        name: [minimum, pinned[name]] for name, minimum in job.minimum_pins(requirements).items()}
