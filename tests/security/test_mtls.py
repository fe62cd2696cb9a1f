"""TLS on the verbs' port with a client-certificate check (`tls_client_ca`): kube-scheduler's
certificate (signed by the configured CA) is accepted; no certificate, or one from another CA,
ends at the handshake. The real kube-scheduler over TLS is tests/e2e/test_tls.py."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from tests.scheduler.api.fake_port import FakePort
from tests.security.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def url(pki: Pki) -> Iterator[str]:
    app = create_app(FakePort(), EdgeConfig(body_limit=1 << 20, token=None, token_on_verbs=False))
    with serve_in_thread(app, tls_cert=pki.server_cert, tls_key=pki.server_key,
                         tls_client_ca=pki.ca) as u:  # fmt: skip
        yield u


def _ctx(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def test_client_certificate_from_the_ca_is_accepted(pki: Pki, url: str) -> None:
    with httpx.Client(verify=_ctx(pki.ca, pki.client_cert, pki.client_key)) as c:
        assert c.get(f"{url}/readyz").status_code == 200


@pytest.mark.parametrize("who", ["none", "rogue"])
def test_missing_or_foreign_client_certificate_is_refused(pki: Pki, url: str, who: str) -> None:
    ctx = _ctx(pki.ca) if who == "none" else _ctx(pki.ca, pki.rogue_cert, pki.rogue_key)
    with httpx.Client(verify=ctx) as c, pytest.raises((httpx.ConnectError, httpx.ReadError,
                                                       httpx.RemoteProtocolError)):  # fmt: skip
        c.get(f"{url}/readyz")


def test_server_certificate_verifies_against_the_ca(pki: Pki, url: str) -> None:
    with httpx.Client(verify=_ctx(pki.rogue_cert)) as c, pytest.raises(httpx.ConnectError):
        c.get(f"{url}/readyz")  # a client trusting another CA refuses Tessera's certificate
