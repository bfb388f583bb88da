"""Real servers for the mail integration test: NSD, Postfix and our milter, all on 127.0.0.1.

Each runs from a fresh temporary directory with non-standard ports and is stopped
by the pid this module started (never by name).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POSTFIX = Path("/usr/sbin/postfix")
NSD = Path("/usr/sbin/nsd")
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, udp: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if udp:
            return  # NSD is checked by a real query instead
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def shared_tmpdir(prefix: str) -> Path:
    """A directory the postfix and nobody users can traverse (pytest's tmp is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def zone_file(origin: str, records: list[str]) -> str:
    head = [
        f"$ORIGIN {origin}.",
        "$TTL 60",
        f"@ IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 60",
        f"@ IN NS ns.{origin}.",
        "ns IN A 127.0.0.1",
    ]
    return "\n".join([*head, *records]) + "\n"


def txt(text: str) -> str:
    """A TXT rdata in master-file syntax, split into 255-octet strings."""
    chunks = [text[i : i + 200] for i in range(0, len(text), 200)]
    return "TXT " + " ".join(f'"{c}"' for c in chunks)


@contextmanager
def nsd(zones: dict[str, str]) -> Iterator[int]:
    """NSD serving ``zones`` (origin -> master file text); yields its port."""
    work = shared_tmpdir("cg-nsd-")
    port = free_port()
    lines = [
        "server:",
        "  ip-address: 127.0.0.1",
        f"  port: {port}",
        '  username: ""',
        '  chroot: ""',
        f'  zonesdir: "{work}"',
        f'  pidfile: "{work}/nsd.pid"',
        f'  xfrdfile: "{work}/xfrd.state"',
        f'  zonelistfile: "{work}/zone.list"',
        f'  logfile: "{work}/nsd.log"',
        "  server-count: 1",
        "  verbosity: 1",
        "remote-control:",
        "  control-enable: no",
    ]
    for origin, text in zones.items():
        (work / f"{origin}.zone").write_text(text)
        lines += ["zone:", f"  name: {origin}", f"  zonefile: {origin}.zone"]
    (work / "nsd.conf").write_text("\n".join(lines) + "\n")
    check = subprocess.run(
        ["/usr/sbin/nsd-checkconf", str(work / "nsd.conf")], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"nsd.conf invalid: {check.stderr}")
    proc = subprocess.Popen([str(NSD), "-d", "-c", str(work / "nsd.conf")])
    try:
        _wait_for_dns(port, next(iter(zones)))
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def _wait_for_dns(port: int, origin: str) -> None:
    import dns.message
    import dns.query

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            query = dns.message.make_query(f"{origin}.", "SOA")
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
            return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError("NSD did not answer")


@dataclass
class Milter:
    port: int
    quarantine: Path
    db_url: str
    process: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()  # more `mail milter` options

    def start(self, dns_port: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carrierguard.cli.main",
                "mail",
                "milter",
                "--listen",
                f"inet:127.0.0.1:{self.port}",
                "--authserv-id",
                "mx.carrierguard.test",
                "--nameserver",
                "127.0.0.1",
                "--dns-port",
                str(dns_port),
                "--quarantine-dir",
                str(self.quarantine),
                "--db",
                self.db_url,
                *self.extra,
            ],
            cwd=REPO,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class Postfix:
    config: Path
    smtp_port: int
    mailbox: Path
    log: Path
    release_port: int  # smtpd without milters: where released mail is re-injected

    def delivered(self) -> list[bytes]:
        new = self.mailbox / "inbox" / "new"
        return [p.read_bytes() for p in sorted(new.iterdir())] if new.exists() else []


def _main_cf(root: Path, milter_port: int) -> str:
    return f"""
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.carrierguard.test
mydomain = carrierguard.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtputf8_enable = no
biff = no
maillog_file_prefixes = /tmp
maillog_file = {root}/maillog
virtual_mailbox_domains = example.net
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_milters = inet:127.0.0.1:{milter_port}
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 5s
milter_content_timeout = 60s
smtp_dns_support_level = disabled
"""


MASTER_CF = """
{port} inet n - n - - smtpd
{release} inet n - n - - smtpd -o smtpd_milters=
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
smtp      unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@contextmanager
def postfix(milter_port: int) -> Iterator[Postfix]:
    """A private Postfix instance whose smtpd uses our milter; yields its handle."""
    root = shared_tmpdir("cg-postfix-")
    config = root / "etc"
    config.mkdir()
    port, release = free_port(), free_port()
    (config / "main.cf").write_text(_main_cf(root, milter_port))
    (config / "master.cf").write_text(
        MASTER_CF.format(port=f"127.0.0.1:{port}", release=f"127.0.0.1:{release}")
    )
    mailbox = root / "mail"
    mailbox.mkdir()
    os.chown(mailbox, 65534, 65534)
    (root / "queue").mkdir()
    (root / "data").mkdir(mode=0o700)
    owner = pwd.getpwnam("postfix")
    os.chown(root / "data", owner.pw_uid, owner.pw_gid)
    env = {**os.environ, "MAIL_CONFIG": str(config)}
    run = ["/usr/sbin/postfix", "-c", str(config)]
    started = subprocess.run([*run, "start"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        log = (root / "maillog").read_text() if (root / "maillog").exists() else ""
        raise RuntimeError(f"postfix start failed: {started.stderr}\n{log}")
    try:
        wait_for_port(port)
        wait_for_port(release)
        yield Postfix(config, port, mailbox, root / "maillog", release)
    finally:
        subprocess.run([*run, "stop"], env=env, capture_output=True)
        time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)
