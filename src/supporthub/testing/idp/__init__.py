"""A real OpenID Connect provider for the suite (django-oidc-provider), run on loopback.

Its own Django project in a process of its own: `LoopbackProvider` migrates a SQLite
database in a temporary folder, makes a signing key, the people of `PEOPLE` and one client
for the Support Hub's callback, then serves it on 127.0.0.1 until stopped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PASSWORD = "idp-Pass-2026-correct"  # noqa: S105 (a test provider's)
CLIENT_ID = "supporthub"
CLIENT_SECRET = "supporthub-client-secret-for-the-loopback-provider"  # noqa: S105
UNVERIFIED_GROUP = "unverified-email"


@dataclass(frozen=True)
class Person:
    """Someone who can log in at the provider; `email_verified` is the claim it sends."""

    username: str
    email: str
    email_verified: bool = True


PEOPLE = (
    Person("alice", "alice@supporthub.example"),
    Person("carol", "carol@initech.example"),
    Person("unverified", "unverified@supporthub.example", email_verified=False),
    Person("stranger", "stranger@elsewhere.example"),
    Person("gone", "gone@supporthub.example"),
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LoopbackProvider:
    """The provider process: `start()` returns once its discovery document answers."""

    def __init__(self, *, folder: Path, redirect_uri: str) -> None:
        self.folder = folder
        self.redirect_uri = redirect_uri
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        """The endpoints of the discovery document, as the Support Hub's settings name them."""
        return {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/openid/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/openid/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/openid/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/openid/jwks",
        }

    def start(self, *, timeout: float = 60.0) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "supporthub.testing.idp.settings",
            "IDP_DATABASE": str(self.folder / "idp.sqlite3"),
            "IDP_URL": self.url,
        }
        log = (self.folder / "idp.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "supporthub.testing.idp", str(self.port), self.redirect_uri],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        discovery = f"{self.url}/openid/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the provider stopped: {self.log()}")
            try:
                if httpx.get(discovery, timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the provider did not answer within {timeout:g}s: {self.log()}")

    def log(self) -> str:
        return (self.folder / "idp.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
