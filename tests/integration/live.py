"""A real ``carrierguard serve`` process for integration tests and benchmarks.

Everything goes through the installed command line, as an operator would run it:
``carrierguard import`` loads a book, ``carrierguard keys create`` issues a key,
``carrierguard serve`` runs uvicorn. The server runs in its own process group so
that ``kill()`` (SIGKILL) takes down uvicorn's worker processes too.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from carrierguard.contracts.book import BOOK_HEADER

BIN = Path(sys.executable).parent
COMMAND = (
    [str(BIN / "carrierguard")]
    if (BIN / "carrierguard").exists()
    else [
        sys.executable,
        "-m",
        "carrierguard.cli.main",
    ]
)
READY_SECONDS = 60.0

#: The holder every integration test screens (its identity is fixed; its lines are not).
HOLDER = {
    "kind": "individual",
    "name": "高橋 一郎",
    "name_kana": "タカハシ イチロウ",
    "birth_date": "1985-04-01",
    "address": "東京都千代田区千代田1-1",
    "postal_code": "100-0001",
}


def application(holder: dict[str, str], *sim_types: str, channel: str = "store") -> dict[str, Any]:
    """A POST /v1/applications body for ``holder`` asking for ``sim_types``."""
    return {
        "channel": channel,
        "holder": holder,
        "kyc": {"method": "ic_chip_mynumber"},
        "lines": [{"sim_type": s} for s in sim_types or ("voice",)],
    }


def book_row(holder: dict[str, str], sim_type: str, state: str, activated_on: str) -> list[str]:
    """One row of an import CSV for ``holder``."""
    return [
        holder["kind"],
        holder["name"],
        holder.get("name_kana", ""),
        holder.get("birth_date", ""),
        holder.get("address", ""),
        holder.get("postal_code", ""),
        holder.get("corporate_number", ""),
        sim_type,
        state,
        activated_on,
    ]


def write_book(path: Path, rows: Iterable[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(BOOK_HEADER)
        writer.writerows(rows)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """``carrierguard serve`` on ``db_url``, with its data key and logs in ``workdir``."""

    def __init__(
        self, db_url: str, workdir: Path, *, workers: int = 1, log_level: str = "warning"
    ) -> None:
        self.db_url = db_url
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "CARRIERGUARD_DATA_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"),
            "CARRIERGUARD_KEY_FILE": str(workdir / "unused.key"),
            "CARRIERGUARD_LOG_LEVEL": log_level,
        }
        self.env.pop("CARRIERGUARD_POLICY", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0
        self.token = ""  # a clerk key, once a test has created one

    # -- the command line ---------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``carrierguard ARGS --db URL``; the caller checks the exit code."""
        return subprocess.run(
            [*COMMAND, *args, "--db", self.db_url],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def create_key(self, role: str = "clerk") -> str:
        return self.create_key_named(role, f"integration-{role}")

    def create_key_named(self, role: str, name: str) -> str:
        done = self.cli("keys", "create", "--role", role, "--name", name)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def create_user(self, username: str, role: str, password: str) -> str:
        """``carrierguard users create`` for a person of ``role``; returns the TOTP secret."""
        done = subprocess.run(
            [*COMMAND, "users", "create", "--username", username, "--role", role,
             "--password-stdin", "--db", self.db_url],
            input=password + "\n", env=self.env, cwd=self.workdir, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        secret = re.search(r"secret=([A-Z2-7]+)", done.stdout)
        assert secret, done.stdout
        return secret.group(1)

    def run_plain(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``carrierguard ARGS`` (no ``--db``) in this server's environment."""
        return subprocess.run(
            [*COMMAND, *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def import_book(self, csv_path: Path) -> subprocess.CompletedProcess[str]:
        return self.cli("import", str(csv_path), timeout=3600)

    # -- the server process -------------------------------------------------------------
    def start(self) -> None:
        """Start the server and wait until /healthz answers 200."""
        assert self.proc is None, "already running"
        self.starts += 1
        self._log = (self.workdir / f"serve-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                *COMMAND,
                "serve",
                "--db",
                self.db_url,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"carrierguard serve exited early:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"carrierguard serve was not ready in {READY_SECONDS} s")

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the server's whole process group and reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if sig is signal.SIGKILL:
            self._reap_group_leftovers()

    def _reap_group_leftovers(self) -> None:
        # uvicorn's workers share the group; after the leader died they may linger briefly.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_text(self) -> str:
        return "\n".join(
            p.read_text(encoding="utf-8", errors="replace")[-4000:]
            for p in sorted(self.workdir.glob("serve-*.log"))
        )

    def client(self, token: str, **kwargs: Any) -> httpx.Client:
        """A thread-safe HTTP client with ``token`` as its Bearer key."""
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=kwargs.pop("timeout", 120.0),
            limits=limits,
            **kwargs,
        )

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
