"""Settings: defaults < config file < TESSERA_* env < flags; every bad value named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.settings import Settings, SettingsError, load_settings


def test_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("port: 9000\nhost: 0.0.0.0\nweights: {Binpack: 2}\nreservation_ttl_s: 12\n")
    env = {"TESSERA_PORT": "9100", "TESSERA_TOKEN_ON_VERBS": "true", "UNRELATED": "x"}
    s = load_settings(cfg, env=env)
    assert (s.port, s.host, s.reservation_ttl_s, s.token_on_verbs) == (9100, "0.0.0.0", 12.0, True)
    assert dict(s.weights) == {"Binpack": 2}
    assert s.with_overrides(port=9200, host=None).port == 9200
    assert load_settings(None, env={}) == Settings()


def test_json_config_and_token(tmp_path: Path) -> None:
    tok = tmp_path / "t"
    tok.write_text("  abc \n")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"token_file": str(tok), "thresholds": {"temperature_c": 85}}))
    s = load_settings(cfg, env={})
    assert s.read_token() == "abc" and s.thresholds["temperature_c"] == 85


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("prot: 1\n", {}, "unknown setting 'prot'"),
        ("port: 70000\n", {}, "port: 70000 is not in 0..65535"),
        ("port: abc\n", {}, "port (from config file"),
        ("", {"TESSERA_PORT": "1.5"}, "port (from environment)"),
        ("tls_cert: a.pem\n", {}, "tls_cert and tls_key must be given together"),
        ("weights: {Binpack: -1}\n", {}, "weights.Binpack"),
        ("body_limit_bytes: 10\n", {}, "below 1024"),
        ("- a\n", {}, "must be a mapping"),
        ("port: [\n", {}, "not valid YAML/JSON"),
        ("", {"TESSERA_TOKEN_ON_VERBS": "maybe"}, "token_on_verbs"),
        ("reservation_ttl_s: 0\n", {}, "reservation_ttl_s: 0.0 must be a finite number > 0"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], needle: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(cfg, env=env)
    assert needle in str(info.value)


def test_empty_token_file(tmp_path: Path) -> None:
    tok = tmp_path / "t"
    tok.write_text("\n")
    with pytest.raises(SettingsError, match="is empty"):
        Settings(token_file=tok).read_token()


def test_a_deep_json_map_in_the_environment_is_a_settings_error() -> None:
    """Round 10: TESSERA_WEIGHTS of 100,000 '[' was a RecursionError traceback (json.loads)."""
    with pytest.raises(SettingsError, match="weights .from environment.*nested deeper"):
        load_settings(None, env={"TESSERA_WEIGHTS": "[" * 100_000 + "]" * 100_000})
