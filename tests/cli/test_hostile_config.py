"""Bad operator input to `tessera serve`, `explain` and `plan` (round 10): a settings file, its
TLS and token files, the listen address, a snapshot or `--pod` file. Each must exit 2 with one
line naming what was wrong before anything serves; none may start a server that fails later."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.kube import snapshot as snapshot_module
from tests.cli.one_line import one_line_error
from tests.conftest import REPO

EX = REPO / "examples"
LAUGHS = "".join(
    f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}" if i else '"x"'] * 9) + "]\n" for i in range(9)
)  # 9^9 strings from 300 bytes


def serve_with(tmp_path: Path, config: str, *flags: str) -> str:
    cfg = tmp_path / "tessera.yaml"
    cfg.write_text(config)
    args = ["serve", "--snapshot", str(EX / "cluster.json"), "--port", "0", "--config", str(cfg)]
    return one_line_error([*args, *flags])


@pytest.mark.parametrize(
    ("config", "named"),
    [
        # Was accepted: NaN passed `<= 0` (a reservation TTL of NaN never expires), infinity
        # raised OverflowError in the first wait of the watch's backoff or the poller.
        ("reservation_ttl_s: .nan", "reservation_ttl_s"),
        ("backoff_max_s: .inf", "backoff_max_s"),
        ("body_timeout_s: .nan", "body_timeout_s"),
        ("thresholds: {poll_s: .inf}", "thresholds.poll_s"),
        # Was accepted: the weighted sum overflowed, every score -2^63, every prioritize a 400.
        ("weights: {Binpack: .inf}", "weights.Binpack"),
        ("weights: {Binpack: 1.0e+308}", "weights.Binpack"),
        # Set in the file, not as a flag: printed "serving ... on https://", then
        # "error: [Errno 2] No such file or directory", naming no file.
        ("tls_cert: /nonexistent.pem\ntls_key: /nonexistent.key", "tls_cert /nonexistent.pem"),
        ("token_file: /nonexistent", "token_file /nonexistent"),
        # Was a traceback (TypeError from socket.bind), exit 1.
        ('host: "a\\0b"', "host 'a\\x00b'"),
        # The settings reader expanded aliases: a repr of 9^9 strings in the error message.
        (LAUGHS, "aliases are not accepted"),
    ],
)
def test_bad_settings_exit_2_naming_the_setting(tmp_path: Path, config: str, named: str) -> None:
    assert named in serve_with(tmp_path, config)


def test_tls_files_that_are_not_pem_are_named(tmp_path: Path) -> None:
    """Was: the server started and uvicorn failed with `[SSL] PEM lib (_ssl.c:...)`."""
    (tmp_path / "c.pem").write_text("not a certificate\n")
    (tmp_path / "k.pem").write_text("not a key\n")
    line = serve_with(tmp_path, "", "--tls-cert", str(tmp_path / "c.pem"),
                      "--tls-key", str(tmp_path / "k.pem"))  # fmt: skip
    assert "not a usable PEM certificate and key" in line and "c.pem" in line


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64"),  # JSON past orjson's 1,024
        ("- " * 2000 + "x\n", "nested deeper than 64"),  # YAML: RecursionError, a traceback
        ("kind: List\nitems: []\n" + LAUGHS, "aliases are not accepted"),
    ],
    ids=["deep-json", "deep-yaml", "aliases"],
)
def test_a_hostile_snapshot_is_one_line(tmp_path: Path, text: str, named: str) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(text)
    line = one_line_error(["explain", "--snapshot", str(snap), "--pod", str(EX / "pod-h100.yaml")])
    assert named in line and str(snap) in line


def test_a_snapshot_past_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--snapshot /dev/zero` read until memory ran out; now at most MAX_BYTES + 1 are read."""
    monkeypatch.setattr(snapshot_module, "MAX_BYTES", 1000)
    pod = str(EX / "pod-h100.yaml")
    line = one_line_error(["explain", "--snapshot", "/dev/zero", "--pod", pod])
    assert "larger than the 1000-byte limit" in line


def test_a_pod_file_with_aliases_is_one_line(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(LAUGHS + "kind: Pod\nmetadata: {name: p, labels: {a: *l8}}\n")
    line = one_line_error(["explain", "--snapshot", str(EX / "cluster.json"), "--pod", str(pod)])
    assert "aliases are not accepted" in line
