"""Fuzzing the parsing path: every input gives MailText or MailUnreadable, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carrierguard.errors import MailUnreadable
from carrierguard.mail.content.extract import read_message
from tests.mail.content.conftest import build

_HEADERS = st.sampled_from(
    [
        b"Content-Type: text/plain; charset=iso-2022-jp\r\n",
        b"Content-Type: text/html; charset=shift_jis\r\n",
        b'Content-Type: text/plain; charset="bogus-charset"\r\n',
        b'Content-Type: multipart/mixed; boundary="zz"\r\n',
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Subject: =?iso-2022-jp?B?GyRCJCIbKEI=?= =?utf-8?q?=E3=81=82?=\r\n",
        b"From: =?bad?x?zz?= <@>\r\n",
        b"Reply-To: a via b <c@d>\r\n",
        b"List-Id: <x.y>\r\n",
        b"Subject: \xff\xfe\x1b$B\r\n",
        b"\r\n--zz\r\nContent-Type: text/html\r\n\r\n<a href='http://[::1'>x",
    ]
)


def _check(data: bytes) -> None:
    try:
        mail = read_message(data)
    except MailUnreadable:
        return
    assert isinstance(mail.body, str)
    assert isinstance(mail.subject, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    """Arbitrary bytes are read or refused with MailUnreadable."""
    _check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_HEADERS, max_size=8), st.binary(max_size=600), st.binary(max_size=600))
def test_mutated_mime_never_crashes_the_reader(
    headers: list[bytes], body: bytes, tail: bytes
) -> None:
    """Well-formed starts with shuffled MIME headers and random bodies never crash."""
    raw = build(body, extra="") + b"".join(headers) + b"\r\n" + tail
    _check(b"".join(headers) + raw)
    _check(raw)
