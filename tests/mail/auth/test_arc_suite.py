"""The ARC validation suite (ValiMail arc_test_suite), through our resolver and ARC path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carrierguard.mail.auth.dkim import verify_arc
from carrierguard.mail.dns import StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from tests.conftest import SHARED_DATA, need

SUITE = SHARED_DATA / "mail" / "email-auth" / "arc_test_suite" / "tests"
VALIDATION = SUITE / "arc-draft-validation-tests.yml"
# The suite writes "" for a chain that an earlier hop already declared failed; RFC 8617
# section 5.2 makes that a failed chain too.
EXPECTED = {"pass": "pass", "fail": "fail", "none": "none", "": "fail"}


def cases() -> Iterator[Any]:
    if not VALIDATION.exists():
        yield pytest.param(None, None, id="suite-missing")
        return
    import yaml

    with VALIDATION.open(encoding="utf-8") as fh:
        for scenario in yaml.safe_load_all(fh):
            records = scenario.get("txt-records") or scenario.get("txt_records") or {}
            for name, case in scenario["tests"].items():
                yield pytest.param(records, case, id=name)


@pytest.mark.parametrize(("records", "case"), list(cases()))
def test_arc_suite_case_gives_expected_chain_status(
    records: dict[str, str] | None, case: dict[str, Any] | None
) -> None:
    """Each validation case gives the chain validation status the suite expects."""
    need(VALIDATION.exists(), f"ARC suite not found at {VALIDATION}")
    assert records is not None and case is not None
    resolver = StaticResolver.of(
        StaticRecord(name, "TXT", Txt((value.encode(),))) for name, value in records.items()
    )
    raw = case["message"].encode().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    got = verify_arc(Message.parse(raw), resolver)
    assert got.result == EXPECTED[str(case["cv"]).strip().lower()], got.reason
