"""The RFC 7208 test suite, run through our in-memory resolver and SPF path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carrierguard.mail.auth.spf import check_spf
from carrierguard.mail.dns import Address, Mx, RData, StaticResolver, Target, Txt
from tests.conftest import SHARED_DATA, need

DEFAULT_EXPLANATION = "SPF fail - not authorized"
SUITE = SHARED_DATA / "mail" / "email-auth" / "pyspf" / "test" / "rfc7208-tests.yml"


def _txt(value: Any) -> Txt:
    parts = [value] if isinstance(value, str) else list(value)
    return Txt(tuple(p.encode("utf-8") for p in parts))


def resolver_from_zonedata(zonedata: dict[str, list[Any]]) -> StaticResolver:
    """Build the fake DNS a suite scenario describes.

    As the suite's README asks of drivers, a name with type SPF but no TXT gets the
    SPF data as TXT too, unless it says ``TXT: NONE``.
    """
    table: dict[tuple[str, str], tuple[RData, ...]] = {}
    timeouts: set[str] = set()
    for name, entries in zonedata.items():
        spf_copy: list[Txt] = []
        txt_none = False
        for entry in entries:
            if entry == "TIMEOUT":
                timeouts.add(name)
                continue
            ((kind, value),) = entry.items()
            key = (name, kind)
            record: RData
            if kind in ("TXT", "SPF"):
                if value == "NONE":
                    txt_none = True
                    continue
                record = _txt(value)
                if kind == "SPF":
                    spf_copy.append(record)
            elif kind in ("A", "AAAA"):
                record = Address(str(value))
            elif kind == "MX":
                record = Mx(int(value[0]), str(value[1]))
            elif kind in ("PTR", "CNAME"):
                record = Target(str(value))
            else:
                raise AssertionError(f"unknown zonedata type {kind}")
            table[key] = (*table.get(key, ()), record)
        if spf_copy and not txt_none and (name, "TXT") not in table:
            table[(name, "TXT")] = tuple(spf_copy)
    return StaticResolver(table, frozenset(timeouts))


def scenarios() -> Iterator[Any]:
    if not SUITE.exists():
        yield pytest.param(None, None, None, id="suite-missing")
        return
    import yaml

    with SUITE.open(encoding="utf-8") as fh:
        for scenario in yaml.safe_load_all(fh):
            for name, case in scenario["tests"].items():
                yield pytest.param(scenario["zonedata"], name, case, id=name)


@pytest.mark.parametrize(("zonedata", "name", "case"), list(scenarios()))
def test_rfc7208_case_gives_the_expected_result(
    zonedata: dict[str, list[Any]] | None, name: str | None, case: dict[str, Any] | None
) -> None:
    """Each RFC 7208 suite case gives one of its expected results through our resolver."""
    need(SUITE.exists(), f"RFC 7208 suite not found at {SUITE}")
    assert zonedata is not None and case is not None
    resolver = resolver_from_zonedata(zonedata)
    got = check_spf(
        resolver, ip=str(case["host"]), mail_from=case["mailfrom"], helo=str(case["helo"])
    )
    expected = case["result"]
    accepted = expected if isinstance(expected, list) else [expected]
    assert got.result in accepted, f"{name}: {case.get('description', '')}"
    if "explanation" in case and got.result == "fail":
        # "DEFAULT" in the suite means the receiver's own default explanation.
        wanted = case["explanation"]
        assert got.explanation == (DEFAULT_EXPLANATION if wanted == "DEFAULT" else wanted)
