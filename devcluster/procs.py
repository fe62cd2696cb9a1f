"""Child processes with a log file each, a readiness wait, and teardown of the whole group."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class LaunchError(RuntimeError):
    """A component did not start or become ready; the message names it and its log file."""


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback TCP port that was free a moment ago, chosen below the ephemeral range.

    A port the OS picks for `bind(0)` comes from the ephemeral range, where every outgoing
    connection (the apiserver's clients, kube-scheduler's calls) also takes its local port: in
    the seconds between choosing a port and the component binding it, one of those may take
    it ("Address already in use"). Below that range only listeners compete, and the test bind
    rules out the ones already there.
    """
    low = min(_ephemeral_low(), 65536)
    if low > 20000:
        rng = random.Random()
        for _ in range(64):
            port = rng.randrange(15000, low)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    """The last `lines` lines of a log file ('' when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Proc:
    """One started component: its name, argv, log file and process handle."""

    name: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            # Own session: teardown signals the component and anything it spawned.
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float) -> None:
        """Poll `probe` until it returns True; fail fast if the process exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                code = self.popen.returncode if self.popen else None
                raise LaunchError(
                    f"{self.name} exited with code {code} before it was ready; log {self.log}:\n"
                    + tail(self.log)
                )
            if probe():
                return
            time.sleep(0.2)
        raise LaunchError(
            f"{self.name} not ready after {timeout_s:.0f}s; log {self.log}:\n" + tail(self.log)
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace_s`."""
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace_s)
