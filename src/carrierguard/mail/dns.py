"""DNS for mail authentication: one resolver interface, three implementations.

* ``DnspythonResolver`` asks real name servers (dnspython) with a timeout.
* ``CachingResolver`` wraps any resolver with a TTL cache (positive and negative answers).
* ``StaticResolver`` answers from memory: built by hand in tests (the fake) or from an
  RFC 1035 master file (``StaticResolver.from_zone_file``) for offline runs and ``--dns-zone``.

The checks (SPF, DKIM, ARC, DMARC) only ever see ``Resolver.query`` and the values below;
dnspython's exceptions are translated here into ``DnsTemporaryFailure`` and never leak.
This module must not interpret mail records: that is the job of ``mail/auth``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol, cast

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.tokenizer
import dns.transaction
import dns.zonefile

from carrierguard.errors import DnsTemporaryFailure, InvalidInput

SUPPORTED_TYPES = ("A", "AAAA", "MX", "PTR", "TXT", "CNAME", "SPF")
DEFAULT_TIMEOUT = 5.0
NEGATIVE_TTL = 300


class Rcode(Enum):
    """The outcome of a lookup that got an answer (failures raise instead)."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"


@dataclass(frozen=True, slots=True)
class Txt:
    """A TXT (or type 99 SPF) record: its character-strings, not yet joined."""

    strings: tuple[bytes, ...]

    def joined(self) -> bytes:
        return b"".join(self.strings)


@dataclass(frozen=True, slots=True)
class Address:
    """An A or AAAA record in its textual form."""

    address: str


@dataclass(frozen=True, slots=True)
class Mx:
    preference: int
    exchange: str


@dataclass(frozen=True, slots=True)
class Target:
    """A PTR or CNAME record: a domain name without the trailing dot."""

    name: str


RData = Txt | Address | Mx | Target


@dataclass(frozen=True, slots=True)
class Answer:
    """The records of one type at one name, after CNAMEs were followed.

    ``cnames`` lists the aliases traversed, in order, so callers that must count
    lookups (SPF) can still see them.
    """

    name: str
    rdtype: str
    rcode: Rcode
    records: tuple[RData, ...] = ()
    ttl: int = NEGATIVE_TTL
    cnames: tuple[str, ...] = ()

    def txt(self) -> list[bytes]:
        """The joined TXT strings, one per record."""
        return [r.joined() for r in self.records if isinstance(r, Txt)]


class Resolver(Protocol):
    """What the mail checks need from DNS."""

    def query(self, name: str, rdtype: str) -> Answer:
        """Look ``name`` up; raise ``DnsTemporaryFailure`` on timeout or SERVFAIL."""
        ...


def normalise(name: str) -> str:
    """Lower-case, no trailing dot: the key every resolver here uses."""
    return name.rstrip(".").lower()


def _check_type(rdtype: str) -> str:
    upper = rdtype.upper()
    if upper not in SUPPORTED_TYPES:
        raise ValueError(f"unsupported record type {rdtype!r}")
    return upper


def rdata_from_dnspython(rdata: dns.rdata.Rdata) -> RData | None:
    """Translate one dnspython rdata into our value, or None for types we do not use."""
    kind = dns.rdatatype.to_text(rdata.rdtype)
    if kind in ("TXT", "SPF"):
        return Txt(tuple(bytes(s) for s in rdata.strings))  # type: ignore[attr-defined]
    if kind in ("A", "AAAA"):
        return Address(str(rdata.address))  # type: ignore[attr-defined]
    if kind == "MX":
        exchange = rdata.exchange.to_text(omit_final_dot=True)  # type: ignore[attr-defined]
        return Mx(int(rdata.preference), exchange)  # type: ignore[attr-defined]
    if kind in ("PTR", "CNAME"):
        return Target(rdata.target.to_text(omit_final_dot=True))  # type: ignore[attr-defined]
    return None


class DnspythonResolver:
    """Real DNS through dnspython; ``nameservers`` and ``port`` override resolv.conf."""

    def __init__(
        self,
        *,
        nameservers: Iterable[str] = (),
        port: int = 53,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        servers = list(nameservers)
        self._resolver = dns.resolver.Resolver(configure=not servers)
        if servers:
            self._resolver.nameservers = servers
        self._resolver.port = port
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout

    def query(self, name: str, rdtype: str) -> Answer:
        kind = _check_type(rdtype)
        key = normalise(name)
        try:
            result = self._resolver.resolve(key + ".", kind, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer(key, kind, Rcode.NXDOMAIN)
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsTemporaryFailure(key, kind, str(exc)) from exc
        except dns.exception.DNSException as exc:
            raise DnsTemporaryFailure(key, kind, str(exc)) from exc
        cnames = tuple(
            normalise(rrset.name.to_text())
            for rrset in result.response.answer
            if rrset.rdtype == dns.rdatatype.CNAME
        )
        if result.rrset is None:
            ttl = _negative_ttl(result.response)
            return Answer(key, kind, Rcode.NOERROR, (), ttl, cnames)
        records = tuple(r for r in map(rdata_from_dnspython, result.rrset) if r is not None)
        return Answer(key, kind, Rcode.NOERROR, records, int(result.rrset.ttl), cnames)


def _negative_ttl(response: dns.message.Message) -> int:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return min(int(rrset.ttl), int(rrset[0].minimum))
    return NEGATIVE_TTL


class CachingResolver:
    """A TTL cache in front of another resolver; safe to share between threads.

    Temporary failures are not cached: the next message retries. ``clock`` is
    injectable so tests can move time.
    """

    def __init__(
        self,
        inner: Resolver,
        *,
        max_entries: int = 100_000,
        max_ttl: int = 86_400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._max_entries = max_entries
        self._max_ttl = max_ttl
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def query(self, name: str, rdtype: str) -> Answer:
        key = (normalise(name), _check_type(rdtype))
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
        answer = self._inner.query(*key)
        with self._lock:
            self.misses += 1
            expires = now + min(max(answer.ttl, 0), self._max_ttl)
            self._entries[key] = (expires, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return answer


@dataclass(frozen=True, slots=True)
class StaticRecord:
    """One record for a ``StaticResolver``: owner name, type and value."""

    name: str
    rdtype: str
    value: RData
    ttl: int = 3600


@dataclass
class StaticResolver:
    """Answers from memory: the fake for unit tests and the zone-file resolver offline.

    A name that owns no record but has records below it answers NOERROR with no
    data (an empty non-terminal), as a real server would. A name in ``timeouts``
    answers the types it holds and raises ``DnsTemporaryFailure`` for any other
    (a server that hangs on unknown types); ``lookups`` records every query asked.
    """

    records: Mapping[tuple[str, str], tuple[RData, ...]] = field(default_factory=dict)
    timeouts: frozenset[str] = frozenset()
    ttls: Mapping[tuple[str, str], int] = field(default_factory=dict)
    lookups: list[tuple[str, str]] = field(default_factory=list)
    _names: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        self.records = {(normalise(n), t.upper()): v for (n, t), v in self.records.items()}
        self.timeouts = frozenset(normalise(n) for n in self.timeouts)
        names: set[str] = set()
        for owner, _ in self.records:
            labels = owner.split(".")
            names.update(".".join(labels[i:]) for i in range(len(labels)))
        self._names = frozenset(names)

    @classmethod
    def of(cls, records: Iterable[StaticRecord], timeouts: Iterable[str] = ()) -> StaticResolver:
        table: dict[tuple[str, str], tuple[RData, ...]] = {}
        ttls: dict[tuple[str, str], int] = {}
        for rec in records:
            key = (normalise(rec.name), rec.rdtype.upper())
            table[key] = (*table.get(key, ()), rec.value)
            ttls[key] = min(ttls.get(key, rec.ttl), rec.ttl)
        return cls(table, frozenset(timeouts), ttls)

    @classmethod
    def from_zone_text(cls, text: str, origin: str = ".") -> StaticResolver:
        """Parse an RFC 1035 master file; names may belong to any number of zones."""
        try:
            rrsets = _read_master_file(text, dns.name.from_text(origin))
        except dns.exception.DNSException as exc:
            raise InvalidInput(
                f"invalid zone file: {exc}",
                message_ja=f"ゾーンファイルを解析できません: {exc}",
            ) from exc
        records: list[StaticRecord] = []
        for owner, ttl, rdata in rrsets:
            value = rdata_from_dnspython(rdata)
            if value is not None:
                kind = dns.rdatatype.to_text(rdata.rdtype)
                records.append(StaticRecord(owner.to_text(), kind, value, int(ttl)))
        return cls.of(records)

    @classmethod
    def from_zone_file(cls, path: Path, origin: str = ".") -> StaticResolver:
        """``from_zone_text`` of a UTF-8 file; an unreadable or binary file is InvalidInput."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise InvalidInput(
                f"cannot read zone file {path}: {why}",
                message_ja=f"ゾーンファイル {path} を読めません: {why}",
            ) from exc
        return cls.from_zone_text(text, origin)

    def query(self, name: str, rdtype: str) -> Answer:
        kind = _check_type(rdtype)
        start = normalise(name)
        self.lookups.append((start, kind))
        current = start
        chain: list[str] = []
        while True:
            found = self.records.get((current, kind))
            if found:
                ttl = self.ttls.get((current, kind), 3600)
                return Answer(start, kind, Rcode.NOERROR, found, ttl, tuple(chain))
            alias = self.records.get((current, "CNAME"))
            if alias and kind != "CNAME" and len(chain) < 8:
                chain.append(current)
                target = alias[0]
                assert isinstance(target, Target)
                current = normalise(target.name)
                continue
            if current in self.timeouts:
                raise DnsTemporaryFailure(current, kind, "timeout (static)")
            rcode = Rcode.NOERROR if current in self._names else Rcode.NXDOMAIN
            return Answer(start, kind, rcode, (), NEGATIVE_TTL, tuple(chain))


class _RecordCollector:
    """The slice of a dnspython transaction the master-file reader drives.

    ``dns.zone`` insists on one zone (one SOA, at the origin); test and offline
    zone files hold several zones, so records are simply collected in order.
    """

    def __init__(self, origin: dns.name.Name) -> None:
        self.manager = self
        self.origin = origin
        self.records: list[tuple[dns.name.Name, int, dns.rdata.Rdata]] = []

    def origin_information(self) -> tuple[dns.name.Name, bool, dns.name.Name]:
        return self.origin, False, self.origin

    def check_put_rdataset(self, check: object) -> None:
        return None

    def _set_origin(self, origin: dns.name.Name) -> None:
        return None

    def add(self, name: dns.name.Name, ttl: int, rdata: dns.rdata.Rdata) -> None:
        self.records.append((name, ttl, rdata))


def _read_master_file(
    text: str, origin: dns.name.Name
) -> list[tuple[dns.name.Name, int, dns.rdata.Rdata]]:
    collector = _RecordCollector(origin)
    tokens = dns.tokenizer.Tokenizer(text, "<zone>")
    txn = cast(dns.transaction.Transaction, collector)
    dns.zonefile.Reader(tokens, dns.rdataclass.IN, txn, allow_directives=True).read()
    return collector.records


def txt_lookup(resolver: Resolver) -> Callable[..., bytes | None]:
    """A dkimpy ``dnsfunc``: the first TXT record at a name joined, or None."""

    def get_txt(name: bytes | str, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        records = resolver.query(text, "TXT").txt()
        return records[0] if records else None

    return get_txt
