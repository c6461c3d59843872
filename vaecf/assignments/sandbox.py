"""Run one submission's :mod:`~vaecf.assignments.sandbox_driver` confined to its own folder.

:class:`Bubblewrap` (Debian's ``bubblewrap``, the sandbox of Flatpak) starts it in new
process, network, IPC and host-name namespaces with an empty root: read-only views of the
system (``/usr``), of the Python installation and of the ``vaecf`` package only (not the
repository around it: no master notebooks, no other submissions), the submission's folder
as the only writable place besides a private ``/tmp``, a scrubbed environment with ``HOME``
in that ``/tmp``, and no network. When the grader runs as root, the submission runs as an
unprivileged user of its own (one per parallel slot), so it cannot read root's files or
signal the grader, and its process count can be limited. Its limits (time, memory,
processes) are set by the driver before the student's code runs.

:class:`Unsandboxed` is the fallback where bubblewrap cannot run, only with an explicit
``--no-sandbox``: the same limits, folder and environment, but none of the isolation
(:attr:`Unsandboxed.missing` lists what is lost).
"""
from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "Run", "Bubblewrap", "Unsandboxed", "SandboxUnavailable", "find_sandbox"]

INSIDE = "/submission"       # the submission's folder, as the sandbox sees it
FIRST_UID = 61000            # the unprivileged users submissions run as when the grader is root
_TOPS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    timeout: float      # seconds for one submission in all (its cells, then the checks)
    memory_mib: int     # address space of its process
    processes: int = 64  # processes and threads it may have at once

    @property
    def step_timeout(self) -> float:
        """A cell, or one call of a function, is stopped after this long (the rest goes on)."""
        return max(1.0, self.timeout / 4)


@dataclass(frozen=True)
class Run:
    returncode: int | None
    timed_out: bool
    seconds: float


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def _readonly_roots() -> list[Path]:
    """The Python installation(s) and the package, outermost folders only."""
    candidates = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                              sys.base_exec_prefix)}
    candidates.add(_package_dir())
    candidates = {p for p in candidates if p != Path("/") and not p.is_relative_to("/usr")}
    return sorted(p for p in candidates if not any(p != q and p.is_relative_to(q)
                                                   for q in candidates))


def _environment(home: str) -> dict[str, str]:
    env = {"HOME": home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/.matplotlib",
           "IPYTHONDIR": f"{home}/.ipython", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "PYTHONPATH": str(_package_dir().parent)}
    if "VAECF_SMOKE" in os.environ:  # the teacher's choice of smoke-sized notebooks
        env["VAECF_SMOKE"] = os.environ["VAECF_SMOKE"]
    return env


class _Runner:
    """Shared by both runners: a pool of user ids (as root) and the wait-then-kill."""

    name = ""
    missing: tuple[str, ...] = ()
    own_pid_namespace = False
    own_user = False  # as root, run each submission as an unprivileged user of its own

    def __init__(self, slots: int = 1):
        self.root = os.geteuid() == 0
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._uids: queue.Queue = queue.Queue()
        for uid in range(FIRST_UID, FIRST_UID + slots):
            self._uids.put(uid)

    def check_exposure(self, *private: Path) -> None:
        """Refuse to run if a read-only root would show the sandbox a private folder."""
        for folder in private:
            folder = Path(folder).resolve()
            for root in _readonly_roots():
                if folder.is_relative_to(root):
                    raise SandboxUnavailable(
                        f"{folder} lies inside {root}, which submissions must be able to read "
                        "(the Python environment or the vaecf package): they could read it "
                        "too. Keep masters and submissions outside it (use a virtual "
                        "environment in its own folder).")

    def _command(self, folder: Path, uid: int | None) -> tuple[list[str], dict | None, str]:
        raise NotImplementedError

    def run(self, folder: Path, limits: Limits, job: dict) -> Run:
        """Run the driver on ``folder`` (``job`` is completed with the limits and written)."""
        from .exchange import write_job

        uid = self._uids.get() if self.root and self.own_user else None
        try:
            write_job(folder, {**job, "memory_bytes": limits.memory_mib << 20,
                               "processes": limits.processes if self.own_user else None,
                               "cell_timeout": limits.step_timeout,
                               "call_timeout": limits.step_timeout,
                               "own_pid_namespace": self.own_pid_namespace})
            if uid is not None:  # its user owns the folder; bwrap (root, no rights) may enter
                for path in [folder, *folder.rglob("*")]:
                    os.chown(path, uid, uid)
                folder.chmod(0o711)
            command, env, cwd = self._command(folder, uid)
            start = time.monotonic()
            with self._lock:
                if self._stopping:
                    raise RuntimeError("grading was stopped")
                process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                           start_new_session=True)
                self._live.add(process)
            timed_out = False
            try:
                process.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                self._kill(process, uid)
                with self._lock:
                    self._live.discard(process)
            return Run(None if timed_out else process.returncode, timed_out,
                       time.monotonic() - start)
        finally:
            if uid is not None:
                self._uids.put(uid)

    def stop_all(self) -> None:
        """Kill every submission running now and start no more (the grader is stopping)."""
        with self._lock:
            self._stopping = True
            for process in self._live:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)

    def _kill(self, process: subprocess.Popen, uid: int | None) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Bubblewrap(_Runner):
    name = "bubblewrap"
    own_pid_namespace = True
    own_user = True  # (without root, the user namespace's own process count)

    def _command(self, folder, uid):
        command = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                   "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                   "--ro-bind", "/usr", "/usr"]
        if self.root:  # no user namespace: the driver switches to ``uid`` itself, then has no rights
            command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            command += ["--unshare-user"]
        for top in _TOPS:
            if os.path.islink(top):
                command += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                command += ["--ro-bind", top, top]
        for path in _ETC:
            command += ["--ro-bind-try", path, path]
        # The private /tmp first, so that read-only roots below /tmp (a checkout or a virtual
        # environment there) are bound on top of it rather than hidden by it.
        command += ["--perms", "1777", "--tmpfs", "/tmp"]
        made = set()
        for root in _readonly_roots():
            for parent in reversed(root.parents[:-1]):  # bwrap would make them root-only
                if parent not in made:
                    command += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            command += ["--ro-bind", str(root), str(root)]
        command += ["--proc", "/proc", "--dev", "/dev",
                    "--bind", str(folder), INSIDE, "--chdir", INSIDE, "--clearenv"]
        for key, value in _environment("/tmp/home").items():
            command += ["--setenv", key, value]
        command += [sys.executable, "-m", "vaecf.assignments.sandbox_driver", INSIDE]
        return command, {}, "/"

    def probe(self) -> None:
        """Start the sandbox once with the driver's imports; raise :class:`SandboxUnavailable`
        with bubblewrap's own words if it does not come up."""
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed, and submissions must run in a sandbox: "
                "install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
                "bubblewrap), or pass --no-sandbox to grade without one (see "
                "assignments/README.md for what that leaves unprotected).")
        with tempfile.TemporaryDirectory(prefix="vaecf-probe-") as folder:
            command, _, _ = self._command(Path(folder), None)
            command[-3:] = ["-c", "import IPython, torch, vaecf.assignments.sandbox_driver"]
            result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                                    stdin=subprocess.DEVNULL, env={}, cwd="/")
        if result.returncode != 0:
            raise SandboxUnavailable(
                "bubblewrap is installed but the sandbox does not start here (it needs user "
                "namespaces, or root): "
                + (result.stderr.strip().splitlines() or ["no message"])[-1]
                + ". Fix that, or pass --no-sandbox to grade without one (see "
                "assignments/README.md for what that leaves unprotected).")


class Unsandboxed(_Runner):
    name = "none"
    missing = ("file-system isolation: a submission can read, and change, every file the "
               "grader's user can",
               "a user of its own: it runs as the grader's user (root, if you grade as root)",
               "network isolation: it can reach the network",
               "process isolation: it sees the machine's processes and can signal the "
               "grader's, the grader included",
               "a process-count limit: a fork bomb is stopped only by --timeout",
               "clean-up of processes that leave their process group")

    def _command(self, folder, uid):
        home = folder / "home"
        home.mkdir(exist_ok=True)
        env = _environment(str(home))
        return ([sys.executable, "-m", "vaecf.assignments.sandbox_driver", str(folder)],
                env, str(folder))

    def probe(self) -> None:
        pass


def find_sandbox(unsandboxed: bool = False, slots: int = 1) -> Bubblewrap | Unsandboxed:
    """:class:`Bubblewrap`, checked to start here (else :class:`SandboxUnavailable` says
    why), or with ``unsandboxed`` (``--no-sandbox``) the fallback :class:`Unsandboxed`."""
    sandbox = Unsandboxed(slots) if unsandboxed else Bubblewrap(slots)
    sandbox.probe()
    return sandbox
