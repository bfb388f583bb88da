"""Settings of the mail pillar: explicit values with named defaults, passed in, never read here.

The CLI builds a ``MailSettings`` from its options; tests build one by hand.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_QUARANTINE_DIR = Path("./quarantine")
DEFAULT_DNS_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowList:
    """Local exceptions to DMARC enforcement (RFC 9989 local policy).

    ``domains`` match the author domain or any parent of it; ``networks`` match the
    connecting client.
    """

    domains: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: list[str]) -> AllowList:
        domains: set[str] = set()
        networks = []
        for entry in entries:
            text = entry.strip().lower().rstrip(".")
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                domains.add(text)
        return cls(domains=frozenset(domains), networks=tuple(networks))

    def allows_domain(self, domain: str) -> bool:
        labels = domain.lower().split(".")
        return any(".".join(labels[i:]) in self.domains for i in range(len(labels)))

    def allows_ip(self, ip: str | None) -> bool:
        if not ip:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.networks if net.version == address.version)


@dataclass(frozen=True, slots=True, kw_only=True)
class MailSettings:
    """How this receiver authenticates and enforces.

    ``enforce``: apply the sender's DMARC disposition (reject/quarantine); when
    False every message is delivered with its headers (monitoring mode).
    ``on_error``: what the milter answers when a check crashes: ``tempfail``
    (default: the client retries, nothing is lost) or ``accept``.
    """

    authserv_id: str = field(default_factory=socket.getfqdn)
    enforce: bool = True
    on_error: str = "tempfail"
    malformed_from: str = "reject"
    allow: AllowList = field(default_factory=AllowList)
    trusted_arc_sealers: frozenset[str] = frozenset()
    quarantine_dir: Path = DEFAULT_QUARANTINE_DIR
    nameservers: tuple[str, ...] = ()
    dns_port: int = 53
    dns_timeout: float = DEFAULT_DNS_TIMEOUT
    check_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.on_error not in ("tempfail", "accept"):
            raise ValueError("on_error must be 'tempfail' or 'accept'")
        if self.malformed_from not in ("reject", "quarantine", "none"):
            raise ValueError("malformed_from must be reject, quarantine or none")
