"""A real IMAP server on loopback for the receipt tests: Debian's dovecot (package dovecot-imapd),
run in the foreground with its own configuration in a temporary folder. STARTTLS is required, the
client certificate is checked against the test CA, and one user, ``identito``, logs in with PLAIN.
Mails are put in its Maildir as the delivery agent would (``new/``), and dovecot serves them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.cli_support import free_port
from tests.mssante.smtp_server import Pki

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "identito", "test-secret"
MAIL_UID = 65534  # nobody: dovecot will not serve mail as root


def available() -> bool:
    return os.path.exists(DOVECOT) and os.geteuid() == 0


class ImapServer:
    """dovecot on a free loopback port, for one test."""

    def __init__(self, pki: Pki) -> None:
        # Its own folder under /tmp, readable on the way: dovecot serves the mail as "nobody".
        self.folder = Path(tempfile.mkdtemp(prefix="identito-imap-", dir="/tmp"))
        os.chmod(self.folder, 0o755)
        self.pki, self.port = pki, free_port()
        self.maildir = self.folder / "home" / USER / "Maildir"
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self) -> Path:
        f, p = self.folder, self.pki
        (f / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        config = f / "dovecot.conf"
        config.write_text(f"""
base_dir = {f}/run
state_dir = {f}/state
log_path = {f}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{p.server_cert}
ssl_key = <{p.server_key}
ssl_ca = <{p.ca}
ssl_verify_client_cert = yes
ssl_require_crl = no
auth_ssl_require_client_cert = yes
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:{f}/home/%u/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {f}/passwd
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={f}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        return config

    def deliver(self, raw: bytes) -> None:
        """Put a mail in the inbox (Maildir new/)."""
        target = self.maildir / "new" / f"{time.time():.6f}.{uuid.uuid4().hex}.test"
        target.write_bytes(raw)
        os.chown(target, MAIL_UID, MAIL_UID)

    def __enter__(self) -> ImapServer:
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for path in [self.folder / "home", *(self.folder / "home").rglob("*")]:
            os.chown(path, MAIL_UID, MAIL_UID)
        config = self._config()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("dovecot did not start: " + self.log())

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
