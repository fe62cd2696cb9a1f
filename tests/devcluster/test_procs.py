"""Child-process handling of the launcher, with real (tiny) processes: fail fast with the log
tail, time out naming the component, stop the whole process group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from devcluster.procs import LaunchError, Proc, free_port, tail


def test_wait_ready_fails_fast_with_the_log_tail_when_the_process_exits(tmp_path):
    code = "import sys; print('boom: bad flag --x'); sys.exit(3)"
    proc = Proc("etcd", [sys.executable, "-c", code], tmp_path / "etcd.log").start()
    t0 = time.monotonic()
    with pytest.raises(LaunchError, match=r"etcd exited with code 3 .*\n.*boom: bad flag --x"):
        proc.wait_ready(lambda: False, timeout_s=30)
    assert time.monotonic() - t0 < 10, "must not wait for the full timeout"


def test_wait_ready_times_out_naming_the_component(tmp_path):
    proc = Proc("kube-scheduler", [sys.executable, "-c", "import time; time.sleep(30)"],
                tmp_path / "s.log").start()  # fmt: skip
    try:
        with pytest.raises(LaunchError, match="kube-scheduler not ready after 1s"):
            proc.wait_ready(lambda: False, timeout_s=1)
    finally:
        proc.stop()
    assert not proc.running


def test_stop_kills_the_whole_group_including_grandchildren(tmp_path):
    pidfile = tmp_path / "child.pid"
    # The component spawns a grandchild that ignores nothing and sleeps; stop() must end both.
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    proc = Proc("tessera", [sys.executable, "-c", code], tmp_path / "t.log").start()
    proc.wait_ready(pidfile.exists, timeout_s=20)
    grandchild = int(pidfile.read_text())
    proc.stop(grace_s=5)
    assert not proc.running
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        # A reaped-by-init zombie still answers kill(0); check /proc state when available.
        stat = Path(f"/proc/{grandchild}/stat")
        if stat.exists() and stat.read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"grandchild {grandchild} survived stop()")


def test_free_port_is_bindable_and_tail_reads_last_lines(tmp_path):
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free a moment ago: binds
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(20)))
    assert tail(log, 2) == "line 18\nline 19"
    assert tail(tmp_path / "missing.log") == ""


def test_free_ports_come_from_below_the_ephemeral_range():
    # Outgoing connections take their local ports from the ephemeral range; a listener port
    # chosen there can be taken before the component binds it (seen: "Address already in use").
    from devcluster.procs import _ephemeral_low

    low = _ephemeral_low()
    if low <= 20000:
        pytest.skip(f"ephemeral range starts at {low}: no room below it, the OS picks")
    ports = [free_port() for _ in range(20)]
    assert all(15000 <= p < low for p in ports), ports
