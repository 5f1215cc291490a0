"""The two terminals the shell streams carry: `docker exec` of a shell with a TTY in a
container, and a shell on a PTY where watch-docker runs. Each reads (blocking) what the TTY
prints, writes keystrokes, resizes, and `close` ends its process: Docker does not end an exec
session whose client went away (moby#9098), so the exec'd shell first tells its pid (an OSC
sequence a terminal ignores, taken out of the output) and `close` hangs it up through the
engine."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from typing import Protocol

import docker

from watchdocker.engine.live import ExecSession

SHELL_NAME = re.compile(r"[A-Za-z0-9_./-]{1,64}")
_PID_MARK = re.compile(rb"\x1b\]watchdocker-pid;(\d+)\x07")
_TELL_PID = 'printf "\\033]watchdocker-pid;%s\\007" "$$"; exec "$0"'
HANGUP_WAIT = 2.0  # seconds a hung-up shell has to end before it is killed


class Terminal(Protocol):
    def read(self) -> bytes: ...  # b"" once it has ended

    def write(self, data: bytes) -> None: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def close(self) -> None: ...  # ends the process; read() then returns b""

    def release(self) -> None: ...  # once nothing reads any more


class ExecTerminal:
    def __init__(self, engine: docker.DockerClient, container_id: str, shell: str) -> None:
        self.session = ExecSession(engine, container_id, ["sh", "-c", _TELL_PID, shell])
        self._pid: str | None = None
        self._head = b""  # output before the pid was told

    def read(self) -> bytes:
        while self._pid is None:
            data = self.session.read()
            if not data:
                return self._head
            self._head += data
            if mark := _PID_MARK.search(self._head):
                self._pid = mark[1].decode()
                data, self._head = self._head[: mark.start()] + self._head[mark.end() :], b""
                if data:
                    return data
            elif len(self._head) > 4096:  # the wrapper did not run: no pid to hang up
                self._pid, data, self._head = "", self._head, b""
                return data
        return self.session.read()

    def write(self, data: bytes) -> None:
        self.session.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.session.resize(cols, rows)

    def close(self) -> None:
        self.session.close_socket()
        if not self._pid:
            return
        for signal_name in ("HUP", "KILL"):
            if not self.session.running():
                return
            self.session.run_beside(["sh", "-c", f"kill -{signal_name} {self._pid}"])
            deadline = time.monotonic() + HANGUP_WAIT
            while self.session.running() and time.monotonic() < deadline:
                time.sleep(0.1)

    def release(self) -> None:
        return None


# Makes the PTY the shell's controlling terminal (so ^C reaches what it runs), then runs it.
_LOGIN_TTY = "import os, sys; os.login_tty(0); os.execvp(sys.argv[1], sys.argv[1:])"
# What the host shell inherits: never serve's own variables (passwords, tokens, secrets).
_KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME", "TZ")


class HostTerminal:
    def __init__(self, shell: str) -> None:
        self._master, slave = pty.openpty()
        env = {k: os.environ[k] for k in _KEPT_VARIABLES if k in os.environ}
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _LOGIN_TTY, shell],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env={**env, "TERM": "xterm", "SHELL": shell},
                cwd=env.get("HOME", "/"),
            )
        except OSError:
            os.close(self._master)
            raise
        finally:
            os.close(slave)

    def read(self) -> bytes:
        try:
            return os.read(self._master, 65536)
        except OSError:  # EIO: every process of the terminal has ended
            return b""

    def write(self, data: bytes) -> None:
        os.write(self._master, data)

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        for signal_number in (signal.SIGHUP, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal_number)  # the shell's session and jobs
            try:
                self._process.wait(HANGUP_WAIT)
                break
            except subprocess.TimeoutExpired:
                continue
        self._process.wait()

    def release(self) -> None:
        os.close(self._master)
