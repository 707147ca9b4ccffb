"""Real mail servers for the inbox tests: Debian's dovecot, run as our own instance.

The instance listens on a free loopback port with a temporary configuration, a passwd-file
user and a maildir in a temporary folder; it never touches the system's dovecot service.
`scripts/ensure-dovecot` installs dovecot-imapd (`make test` and CI run it first).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess  # noqa: S404
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]

from supporthub.intake.email.imap import ImapConfig

DOVECOT = Path("/usr/sbin/dovecot")
USERS = 100
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway test server's


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _identities() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid) for the user running the tests."""
    if os.geteuid() != 0:
        name = pwd.getpwuid(os.geteuid()).pw_name
        return name, name, os.geteuid(), os.getegid()
    # dovecot refuses to run its login processes, or mail access, as root: use the
    # unprivileged users its Debian package creates.
    dovecot = pwd.getpwnam("dovecot")
    return "dovecot", "dovenull", dovecot.pw_uid, dovecot.pw_gid


@dataclass
class DovecotServer:
    """One dovecot instance; each test gets a user (and so a mailbox) of its own on it."""

    root: Path
    port: int
    users: int = 0

    host = "127.0.0.1"

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    def add_user(self) -> Dovecot:
        # The users are written up front: dovecot re-reads the passwd-file by its mtime, in
        # whole seconds, so a user appended within the same second would not be seen.
        self.users += 1
        if self.users > USERS:
            raise RuntimeError(f"more than {USERS} mailboxes asked of one test dovecot")
        return Dovecot(server=self, user=f"support{self.users}")

    def start(self) -> None:
        subprocess.run([str(DOVECOT), "-c", str(self.conf)], check=True)  # noqa: S603
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        log = (self.root / "dovecot.log").read_text(errors="replace")
        raise RuntimeError(f"dovecot did not start on port {self.port}:\n{log}")

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if not pid_file.exists():
            return
        subprocess.run([str(DOVECOT), "-c", str(self.conf), "stop"], check=False)  # noqa: S603
        deadline = time.monotonic() + 15
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@dataclass
class Dovecot:
    """A test's own mailbox on the shared dovecot: its user, folders and messages."""

    server: DovecotServer
    user: str
    password = PASSWORD

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def inbox(self) -> Path:
        return self.server.root / "mail" / self.user

    def config(self, **overrides: object) -> ImapConfig:
        values: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": PASSWORD,
            "folder": "INBOX",
            "processed_folder": "Processed",
            "use_ssl": False,
            "timeout": 10.0,
        }
        values.update(overrides)
        return ImapConfig(**values)  # type: ignore[arg-type]

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, PASSWORD)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            for raw in messages:
                client.append(folder, raw)
        finally:
            client.logout()

    def uids(self, folder: str) -> list[int]:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search(["NOT", "DELETED"]))
        finally:
            client.logout()

    def renumber_inbox(self) -> None:
        """Make the server give INBOX a new UIDVALIDITY (as after a restore or a migration)."""
        self.server.stop()
        for path in self.inbox.iterdir():
            if path.name.startswith(("dovecot-uidlist", "dovecot.index")):
                path.unlink()
        self.server.start()


def _write_config(root: Path, port: int) -> None:
    internal, login, uid, gid = _identities()
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, uid, gid)
    (root / "passwd").write_text(
        "".join(f"support{n}:{{PLAIN}}{PASSWORD}\n" for n in range(1, USERS + 1))
    )
    (root / "dovecot.conf").write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = supporthub-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
    )


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[DovecotServer]:
    """A dovecot of our own on a free loopback port, stopped (and its files removed) after."""
    if not DOVECOT.exists():
        pytest.fail("dovecot is not installed: run scripts/ensure-dovecot (make test does)")
    # Not pytest's tmp_path: its folders are private to us, and dovecot's users must enter.
    root = Path(tempfile.mkdtemp(prefix="supporthub-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    _write_config(root, port)
    server = DovecotServer(root=root, port=port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> Dovecot:
    """A fresh mailbox (a new user, empty INBOX, no other folder) on the module's dovecot."""
    return dovecot_server.add_user()


def database_url() -> str:
    """The URL of the database the test runs on, for a product process started by a test."""
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{credentials}{config.get('HOST') or '127.0.0.1'}{port}/{config['NAME']}"


def product_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `supporthub` process started by a test: the test's database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        SUPPORTHUB_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="supporthub.settings",
        TASKS_BACKEND="db",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env
