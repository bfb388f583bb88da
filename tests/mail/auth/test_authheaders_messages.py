"""The authheaders 0.16.3 test messages give the DMARC results its own tests expect.

The DNS data is authheaders' fake DNS, rebuilt in our resolver. Where our stricter
From handling answers differently the test says so: authheaders reports the
multiple-From messages as ``fail``/reject, we report ``permerror``/reject; the
disposition is the same.
"""

from __future__ import annotations

import pytest

from carrierguard.mail.auth.check import Envelope, authenticate
from carrierguard.mail.dns import Address, RData, StaticResolver, Txt
from carrierguard.mail.message import Message
from tests.conftest import SHARED_DATA, need

DATA = SHARED_DATA / "mail" / "email-auth" / "authheaders-0.16.3" / "test"


def authheaders_dns() -> StaticResolver:
    def txt(text: str) -> tuple[RData, ...]:
        return (Txt((text.encode(),)),) if text else ()

    records: dict[tuple[str, str], tuple[RData, ...]] = {
        ("test._domainkey.example.com", "TXT"): (Txt(((DATA / "test.txt").read_bytes().strip(),)),),
        ("_dmarc.example.com", "TXT"): txt(
            "v=DMARC1; p=reject; rua=mailto:dmarc.reports@valimail.com,"
            "mailto:dmarc_agg@vali.email; ruf=mailto:dmarc.reports@valimail.com"
        ),
        ("_dmarc.example.org", "TXT"): txt("v=DMARC1; p=none"),
        ("_dmarc.example.net", "TXT"): txt("v=DMARC1; p=none; sp=reject"),
        ("_dmarc.example.biz", "TXT"): txt("v=DMARC1; p=none; sp=quarantine; np=reject"),
        ("_dmarc.nop.example.org", "TXT"): txt("v=DMARC1; sp=quarantine; np=reject"),
        ("_dmarc.bad.example.com", "TXT"): txt("v=DMARC1; p=none; reject"),
        ("sub2.example.biz", "A"): (Address("192.0.2.1"),),
        ("sub.example.net", "A"): (Address("192.0.2.2"),),
        ("example.com", "A"): (Address("192.0.2.3"),),
        ("example.org", "A"): (Address("192.0.2.4"),),
        ("nop.example.org", "A"): (Address("192.0.2.5"),),
        ("bad.example.com", "A"): (Address("192.0.2.6"),),
    }
    return StaticResolver(records)


@pytest.mark.parametrize(
    ("file", "result", "policy", "disposition"),
    [
        ("test.message_signed", "pass", "reject", "none"),
        ("testcomma.message", "pass", "reject", "none"),
        ("test.bad.message", "permerror", "none", "none"),
        ("test.nofrom.message", "permerror", "none", "reject"),
        ("test.message_multi", "permerror", "none", "reject"),
        ("test.message_multi2", "permerror", "none", "reject"),
        ("test.message_sub", "fail", "reject", "reject"),
        ("test.message_np1", "fail", "reject", "reject"),
        ("test.message_np2", "fail", "quarantine", "quarantine"),
        ("test_nop.message", "none", "none", "none"),
    ],
)
def test_authheaders_message_gets_expected_dmarc(
    file: str, result: str, policy: str, disposition: str
) -> None:
    """Each authheaders message yields the expected DMARC result, policy and disposition."""
    need(DATA.is_dir(), f"authheaders test data not found at {DATA}")
    message = Message.parse((DATA / file).read_bytes())
    got = authenticate(message, Envelope(), authheaders_dns(), authserv_id="example.com")
    assert (got.dmarc.result, got.dmarc.policy, got.dmarc.disposition) == (
        result,
        policy,
        disposition,
    )
