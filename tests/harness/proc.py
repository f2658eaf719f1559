"""Child processes with captured logs, readiness waits with deadlines, and sure teardown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Every Proc started in this interpreter, so a failing test can print each component's log tail.
REGISTRY: list[Proc] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    # Some components log long JSON lines: keep each line readable.
    return "\n".join(line[:400] for line in text.splitlines()[-lines:])


class Proc:
    """One long-running child process whose stdout and stderr go to `log`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # --pdeathsig: a peer never outlives the test process, even one killed with SIGKILL. KILL, not
        # TERM: the peers die together, and a kube-apiserver told to shut down gracefully after its etcd
        # is gone hangs for minutes. Orderly stops go through stop().
        wrap = ["setpriv", "--pdeathsig=KILL"]
        if self.user is not None:
            wrap += self._drop_to(self.user)
        argv = [*wrap, "--", *self.argv]
        with self.log.open("ab") as out:
            out.write(f"\n=== start: {' '.join(argv)}\n".encode())
            out.flush()
            # A session of its own, so stop() can signal the whole process group.
            self.popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        if self not in REGISTRY:
            REGISTRY.append(self)
        return self

    @staticmethod
    def _drop_to(user: str) -> list[str]:
        import pwd

        pw = pwd.getpwnam(user)
        return [f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups"]

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        self.popen = None

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)


class WaitTimeout(AssertionError):
    pass


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.1,
    procs: Sequence[Proc] = (),
) -> T:
    """Poll `check` until it returns a truthy value or `timeout` seconds pass.

    Exceptions from `check` count as "not yet"; the last one is reported on timeout. A watched
    process that exits fails the wait at once with its log tail, instead of waiting out the deadline.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    delay = interval
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as e:
            last = e
        for p in procs:
            if p.popen is not None and p.popen.poll() is not None:
                raise WaitTimeout(f"{p.name} exited with {p.popen.returncode} while waiting for {what}\n{p.tail()}")
        if time.monotonic() >= deadline:
            logs = "".join(f"\n--- {p.name} ({p.log}) ---\n{p.tail()}" for p in procs)
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last error: {last!r}{logs}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def run(argv: Sequence[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a short command, raising with its output when it fails."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    check = bool(kw.pop("check", True))
    cp: subprocess.CompletedProcess[str] = subprocess.run(list(argv), **kw)  # type: ignore[call-overload]
    if check and cp.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
    return cp


def remove_cgroup_tree(top: Path, attempts: int = 25) -> None:
    """Remove a cgroup directory and everything under it, deepest first; processes still inside are
    SIGKILLed (a container whose runtime died leaves its processes there). Bounded retries."""
    if not top.exists():
        return
    for dirpath, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
        for _ in range(attempts):
            try:
                Path(dirpath).rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                with contextlib.suppress(OSError):
                    for pid in (Path(dirpath) / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
                time.sleep(0.2)


def host_lock(path: Path, what: str, timeout: float = 600) -> int:
    """An exclusive lock on ``path`` for one user of a per-machine resource (waits up to ``timeout``);
    the returned descriptor holds it until closed, and the kernel drops it when the process dies."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError(f"another {what} holds {path} for more than {timeout:.0f}s") from None
            time.sleep(1)
