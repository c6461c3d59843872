"""The benchmark's comparison environment (vaecf.experiments.comparison_env): made once, reused after,
and when it cannot be made, one line that says why — the package index is never reached
here: the commands it would run are replaced by stand-ins."""
from __future__ import annotations

import subprocess
from pathlib import Path

from vaecf.experiments import comparison_env


class Commands:
    """Stands in for subprocess.run: records each command and answers as told."""

    def __init__(self, fail_at: str | None = None, message: str = ""):
        self.calls, self.fail_at, self.message = [], fail_at, message

    def __call__(self, command, capture_output=True, text=True):
        self.calls.append(command)
        step = ("venv" if "venv" in command else "pip" if "pip" in command else "import")
        if step == "venv":
            folder = Path(command[-1])
            (folder / "bin").mkdir(parents=True, exist_ok=True)
            (folder / "bin" / "python").write_text("")
            (folder / "pyvenv.cfg").write_text("")
        if step == self.fail_at:
            return subprocess.CompletedProcess(command, 1, "", self.message)
        return subprocess.CompletedProcess(command, 0, "3.0.1\n" if step == "import" else "", "")


def test_made_once_then_reused_without_running_anything(tmp_path, monkeypatch):
    commands = Commands()
    monkeypatch.setattr(comparison_env.subprocess, "run", commands)
    said = []
    python, why = comparison_env.comparison_python(tmp_path / "env", say=said.append)
    assert python == str(tmp_path / "env" / "bin" / "python") and why is None
    assert [c[1:3] for c in commands.calls][0] == ["-m", "venv"]
    pip = commands.calls[1]
    assert "cornac" in pip and any(arg.startswith("torch==") for arg in pip)
    assert "making the comparison environment" in said[0] and "Cornac 3.0.1" in said[-1]
    assert (tmp_path / "env" / comparison_env.READY).read_text() == "3.0.1\n"
    commands.calls.clear()
    assert comparison_env.comparison_python(tmp_path / "env", say=said.append) == (python, None)
    assert commands.calls == []


def test_an_unreachable_index_is_one_line_and_the_next_run_tries_again(tmp_path, monkeypatch):
    commands = Commands(fail_at="pip", message="WARNING: Location x\nERROR: Could not find a "
                        "version that satisfies the requirement cornac (from versions: none)")
    monkeypatch.setattr(comparison_env.subprocess, "run", commands)
    python, why = comparison_env.comparison_python(tmp_path / "env", say=lambda text: None)
    assert python is None
    assert "could not install Cornac" in why and "from versions: none" in why
    assert "--no-other" in why and "\n" not in why
    assert not (tmp_path / "env" / comparison_env.READY).exists()
    monkeypatch.setattr(comparison_env.subprocess, "run", Commands())
    assert comparison_env.comparison_python(tmp_path / "env", say=lambda text: None)[1] is None


def test_a_folder_in_the_way_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(comparison_env.subprocess, "run", Commands())
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "notes.txt").write_text("mine")
    python, why = comparison_env.comparison_python(tmp_path / "env", say=lambda text: None)
    assert python is None and "is not a virtual environment" in why
    assert (tmp_path / "env" / "notes.txt").read_text() == "mine"


def test_the_folder_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(comparison_env.ENV_VARIABLE, str(tmp_path / "here"))
    assert comparison_env.default_folder() == tmp_path / "here"
    monkeypatch.delenv(comparison_env.ENV_VARIABLE)
    assert comparison_env.default_folder().parts[-3:] == (".cache", "vaecf", "cornac-env")
