"""A private Dovecot IMAP server for the tests: a throw-away config dir, loopback only,
free ports, a self-signed certificate made for it, started in the foreground and
stopped by its own process id. Nothing outside its temporary directory is touched.

As root, Dovecot's master runs as root (as the current user) and the mail is owned by
the `dovecot` user the Debian package creates (Dovecot refuses mail as uid 0); as any
other user, everything runs as that user.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.smtp_harness import free_port, listening, wait_until

DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin:/sbin:/bin") \
    if Path("/usr/lib/dovecot/imap").exists() else None  # dovecot-core and dovecot-imapd
OPENSSL = shutil.which("openssl")
_FLAGS = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)")


def _accounts() -> tuple[str, str, int, int]:
    """(service user, service group, mail uid, mail gid)."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return "dovecot", grp.getgrgid(mail.pw_gid).gr_name, mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, grp.getgrgid(me.pw_gid).gr_name, me.pw_uid, me.pw_gid


def _certificate(folder: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (its own CA: `cert.pem`)."""
    subprocess.run([str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
                    "-days", "2", "-subj", "/CN=mimeops test IMAP",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = mimeops-test-{imap}
log_path = {root}/dovecot.log
first_valid_uid = {uid}
first_valid_gid = {gid}
{service_users}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain login
disable_plaintext_auth = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""

NON_ROOT = """\
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
"""


@dataclass
class Dovecot:
    """`with Dovecot({"bob@example.com": "pw"}) as server:` — imap/imaps ports, `ca`."""

    users: dict[str, str]
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mimeops-dovecot-")))
    imap: int = 0
    imaps: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def ca(self) -> Path:
        """The server's self-signed certificate: the CA a client must trust."""
        return self.root / "cert.pem"

    def start(self) -> Dovecot:
        user, group, uid, gid = _accounts()
        self.root.chmod(0o711)  # the auth and mail processes (another user) look inside
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir()
        os.chown(self.root / "home", uid, gid)
        _certificate(self.root)
        (self.root / "passwd").write_text(
            "".join(f"{name}:{{PLAIN}}{secret}::::::\n" for name, secret in self.users.items()))
        self.imap, self.imaps = free_port(), free_port()
        service_users = "" if os.geteuid() == 0 else NON_ROOT.format(user=user, group=group)
        (self.root / "dovecot.conf").write_text(CONFIG.format(
            root=self.root, uid=uid, gid=gid, imap=self.imap, imaps=self.imaps,
            service_users=service_users))
        self.process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: self._alive() and listening(self.imap) and listening(self.imaps),
                       "dovecot to listen", deadline=30)
        except AssertionError:
            self.stop()
            raise
        return self

    def _alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            error = self.process.stderr.read().decode() if self.process.stderr else ""
            raise AssertionError(f"dovecot exited: {error.strip()} {self.log()[-2000:]}")
        return True

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- a second, ordinary IMAP session: fill folders, look at flags -------------------

    def session(self, user: str) -> imaplib.IMAP4:
        connection = imaplib.IMAP4("127.0.0.1", self.imap, timeout=30)
        connection.login(user, self.users[user])
        return connection

    def append(self, user: str, folder: str, messages: list[bytes]) -> None:
        """APPEND each message (the folder is created when missing)."""
        connection = self.session(user)
        try:
            connection.create(f'"{folder}"')
            for raw in messages:
                status, data = connection.append(f'"{folder}"', None, None, raw)
                assert status == "OK", data
        finally:
            connection.logout()

    def fetch(self, user: str, folder: str) -> dict[int, tuple[bytes, bytes]]:
        """UID -> (flags, bytes) of each message, read without changing a flag."""
        connection = self.session(user)
        try:
            status, _ = connection.select(f'"{folder}"', readonly=True)
            assert status == "OK"
            _, data = connection.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        finally:
            connection.logout()
        found = {}
        for part in data:
            if isinstance(part, tuple):
                match = _FLAGS.search(part[0])
                assert match is not None, part[0]
                found[int(match.group(1))] = (match.group(2), part[1])
        return found
