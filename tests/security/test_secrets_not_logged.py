"""Secrets never reach the log: `tessera serve` at debug level is sent the bearer token the
right way, the wrong way, in a malformed request and inside a request that fails; its whole
log is then grepped for the token (and the wrong token a client tried)."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import orjson

from tests.cli.test_serve import EX, start

TOKEN = "tok-3b1f9c0e5a7d4e2f8a6c1b9d0e7f5a3c"
WRONG = "tok-wrong-5e8d2c1a9b7f6e4d3c2b1a0f9e8d7c6b"


def test_tokens_never_appear_in_the_log(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "config.yaml").write_text("log_level: debug\ntoken_on_verbs: true\n")
    files = ("--token-file", str(tmp_path / "token"), "--config", str(tmp_path / "config.yaml"))
    proc, url = start("--snapshot", str(EX / "cluster.json"), *files)
    good = {"Authorization": f"Bearer {TOKEN}"}
    bad = {"Authorization": f"Bearer {WRONG}"}
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/metrics", headers=good).status_code == 200
            assert c.get("/metrics", headers=bad).status_code == 401
            assert c.get("/explain", params={"pod": "default/none"}, headers=bad).status_code == 401
            assert c.post("/filter", content=b"{", headers=good).status_code == 400
            assert c.post("/filter", content=b"{}", headers=bad).status_code == 401
            pod = {"metadata": {"name": "p", "annotations": {"note": TOKEN}},
                   "spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "x"}}}]}}
            body = orjson.dumps({"Pod": pod, "NodeNames": ["a"]})
            assert c.post("/prioritize", content=body, headers=good).status_code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        _, log = proc.communicate(timeout=30)
    assert "Started server process" in log  # the log after startup was captured
    assert TOKEN not in log and WRONG not in log
    assert "Bearer" not in log
