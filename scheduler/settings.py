"""The extender service's settings: one typed object, the only place environment variables are read.

Precedence (lowest first): built-in defaults < `--config` file (YAML or JSON) < `TESSERA_*`
environment variables < explicit command-line flags (applied by the CLI with `with_overrides`).
Every bad value raises `SettingsError` naming the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scheduler import safejson, safeyaml
from scheduler.policy.registry import MAX_WEIGHT  # checked here too, so the error names the key

ENV_PREFIX = "TESSERA_"


class SettingsError(ValueError):
    """A setting has a bad value or an unknown key; the message names it."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8888
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # CA bundle (PEM) for client certificates: when set, every TLS client must present a
    # certificate it signed (kube-scheduler's extender tlsConfig certFile/keyFile).
    tls_client_ca: Path | None = None
    # File holding the bearer token clients must send; None = no authentication.
    token_file: Path | None = None
    # kube-scheduler's extender client sends no Authorization header, so by default the token
    # guards only /explain and /metrics; true also requires it on the four verbs (behind a proxy).
    token_on_verbs: bool = False
    # Largest request body accepted (bytes). A full NodeList of 10,000 GPU nodes is ~30 MB.
    body_limit_bytes: int = 64 * 1024 * 1024
    # A request body must arrive within this many seconds (kube-scheduler gives up after its
    # httpTimeout, 5 s by default); a slower or truncated body is answered 408.
    body_timeout_s: float = 10.0
    # Most node names (or Node objects) and preemption victims one request may carry.
    max_nodes_per_request: int = 20_000
    max_victims_per_request: int = 20_000
    # Mirror of the scheduler's extender `nodeCacheCapable`. true: Nodes sent in a request are
    # never folded into the watch cache (a request cannot poison it). false (full-Nodes mode):
    # a request's Node is folded when the watch holds an older resourceVersion of it (or, with
    # no watch, the cache lacks it).
    node_cache_capable: bool = True
    # true: filter passes a GPU pod (not a gang member) only its best-scoring node and reserves
    # its GPUs there, so kube-scheduler, left with one feasible node, skips scoring and the
    # prioritize call: one HTTP round trip fewer per pod. Its own scores (spread, affinity
    # preferences) then no longer choose among GPU nodes. docs/extender-api.md.
    choose_in_filter: bool = False
    # "NAMESPACE/NAME" of a coordination.k8s.io Lease: among replicas only its holder is ready
    # and serves the verbs (two active replicas could double-book). "" = a single replica.
    replica_lease: str = ""
    # Score-plugin weights by plugin name (empty = the policy's defaults).
    weights: Mapping[str, float] = field(default_factory=dict)
    # A reservation made at filter/prioritize time lives this long unless bind confirms it.
    reservation_ttl_s: float = 30.0
    # A planned gang's reservations live this long waiting for its other members.
    gang_ttl_s: float = 120.0
    prometheus_url: str | None = None
    # Node agents' /metrics URLs the extender scrapes itself (telemetry without Prometheus);
    # env TESSERA_SCRAPE_URLS takes them comma-separated.
    scrape_urls: tuple[str, ...] = ()
    # Health/load thresholds for the telemetry plugins, by name (e.g. "temperature_c": 85).
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # list+watch: server-side watch timeout and reconnect backoff bounds.
    watch_timeout_s: int = 300
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port: {self.port} is not in 0..65535")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("tls_cert and tls_key must be given together")
        if self.body_limit_bytes < 1024:
            raise SettingsError(f"body_limit_bytes: {self.body_limit_bytes} is below 1024")
        if self.replica_lease and len([p for p in self.replica_lease.split("/") if p]) != 2:
            raise SettingsError(f"replica_lease: {self.replica_lease!r} is not NAMESPACE/NAME")
        for name in ("max_nodes_per_request", "max_victims_per_request"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name}: {getattr(self, name)} must be >= 1")
        for name in _FLOATS:
            # NaN passed `<= 0` and infinity is no time: a NaN reservation TTL never expires
            # and an infinite backoff or body timeout raised OverflowError in a wait.
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise SettingsError(f"{name}: {value} must be a finite number > 0")
        if self.watch_timeout_s <= 0:
            raise SettingsError(f"watch_timeout_s: {self.watch_timeout_s} must be > 0")
        for key, w in self.weights.items():
            if not isinstance(w, int | float) or isinstance(w, bool) or not 0 <= w <= MAX_WEIGHT:
                raise SettingsError(f"weights.{key}: {w!r} must be a number in 0..{MAX_WEIGHT:g}")

    def read_token(self) -> str | None:
        """The bearer token from `token_file` (surrounding whitespace stripped), or None."""
        if self.token_file is None:
            return None
        token = Path(self.token_file).read_text(encoding="utf-8").strip()
        if not token:
            raise SettingsError(f"token_file: {self.token_file} is empty")
        return token

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the non-None `changes` applied (command-line flags), re-validated."""
        given = {k: v for k, v in changes.items() if v is not None}
        return _build({**_as_dict(self), **given}, source="command line")


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_PATHS = {"tls_cert", "tls_key", "token_file", "tls_client_ca"}
_INTS = {
    "port", "body_limit_bytes", "watch_timeout_s", "max_nodes_per_request",
    "max_victims_per_request",
}  # fmt: skip
_FLOATS = {
    "reservation_ttl_s", "gang_ttl_s", "backoff_initial_s", "backoff_max_s", "body_timeout_s",
}  # fmt: skip
_MAPS = {"weights", "thresholds"}
_BOOLS = {"token_on_verbs", "node_cache_capable", "choose_in_filter"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _as_dict(s: Settings) -> dict[str, Any]:
    return {name: getattr(s, name) for name in _FIELDS}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Turn a raw value (file scalar or env string) into the field's type, or say what is wrong."""
    where = f"{name} (from {source})"
    try:
        if value is None:
            return None
        if name in _PATHS:
            return Path(str(value))
        if name in _INTS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if name in _FLOATS:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if name in _BOOLS:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in _TRUE | _FALSE:
                raise ValueError
            return text in _TRUE
        if name in _MAPS:
            if isinstance(value, str):  # json.loads of a deep value: a RecursionError traceback
                value = safejson.loads(value, safejson.ANNOTATION, where)
            if not isinstance(value, Mapping):
                raise ValueError
            return dict(value)
        if name == "prometheus_url":
            return str(value)
        if name == "scrape_urls":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(u, str) for u in items):
                raise ValueError
            urls = tuple(u.strip() for u in items if u.strip())
            if not all(u.startswith(("http://", "https://")) for u in urls):
                raise ValueError
            return urls
        if not isinstance(value, str):
            raise ValueError
        return value
    except safejson.JsonLimitError as exc:  # names `where` and the limit
        raise SettingsError(str(exc)) from None
    except (ValueError, TypeError):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise SettingsError(f"{where}: {shown} is not a valid value") from None


def _build(raw: Mapping[str, Any], source: str) -> Settings:
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise SettingsError(
            f"unknown setting {unknown[0]!r} in {source}; known: {', '.join(sorted(_FIELDS))}"
        )
    values = {k: _coerce(k, v, source) for k, v in raw.items()}
    return Settings(**values)


def load_settings(config: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the config file (YAML or JSON; a mapping of field names), then env vars."""
    merged: dict[str, Any] = {}
    if config is not None:
        try:
            doc = safeyaml.load(Path(config).read_text(encoding="utf-8"), f"config file {config}")
        except safeyaml.YamlError as exc:
            raise SettingsError(str(exc)) from None
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise SettingsError(f"config file {config}: must be a mapping of setting names")
        _build(doc, f"config file {config}")  # validate the file on its own first
        merged.update(doc)
    environ = os.environ if env is None else env
    for name in _FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            merged[name] = environ[key]
    return _build(merged, "environment")
