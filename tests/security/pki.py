"""A throwaway PKI for TLS tests, made with the openssl CLI: a CA, a serving certificate for
127.0.0.1, a client certificate it signed, and a client certificate from a second, unrelated CA."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # signed by another CA
    rogue_key: Path


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    key, crt = d / f"{name}.key", d / f"{name}.crt"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", "2", "-subj", f"/CN={name}")  # fmt: skip
    return crt, key


def _leaf(d: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    key, csr, crt, extf = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt", d / f"{name}.ext"
    extf.write_text(ext)
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", f"/CN={name}")  # fmt: skip
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
         "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(extf))  # fmt: skip
    return crt, key


def make_pki(d: Path) -> Pki:
    d.mkdir(parents=True, exist_ok=True)
    ca = _ca(d, "tessera-ca")
    rogue_ca = _ca(d, "rogue-ca")
    server = _leaf(d, "tessera", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")  # fmt: skip
    client = _leaf(d, "kube-scheduler", ca, "extendedKeyUsage=clientAuth\n")
    rogue = _leaf(d, "rogue", rogue_ca, "extendedKeyUsage=clientAuth\n")
    return Pki(ca[0], server[0], server[1], client[0], client[1], rogue[0], rogue[1])
