"""Reading messages: charsets, transfer encodings, HTML, relay artefacts, malformed MIME."""

from __future__ import annotations

from email.header import Header

import pytest

from carrierguard.errors import MailUnreadable
from carrierguard.mail.content.extract import read_message
from tests.mail.content.conftest import b64, build, qp

NOTICE = "【重要】三井住友カードのご利用確認のお願い"


def test_iso_2022_jp_body_is_decoded() -> None:
    """An iso-2022-jp body reads as Japanese text."""
    raw = build(NOTICE.encode("iso2022_jp"), ctype="text/plain; charset=ISO-2022-JP", cte="7bit")
    assert NOTICE in read_message(raw).body


def test_shift_jis_base64_body_is_decoded() -> None:
    """A base64 Shift_JIS body with a Microsoft-only character still decodes."""
    text = NOTICE + "①"
    raw = build(b64(text, "cp932"), ctype="text/plain; charset=Shift_JIS", cte="base64")
    assert "三井住友カード" in read_message(raw).body


def test_gb2312_labelled_as_japanese_is_detected() -> None:
    """GB2312 bytes labelled iso-2022-jp are decoded anyway and flagged as mislabelled."""
    text = "お客さまのカードが利用停止されました。至急ログインしてください。"
    raw = build(b64(text, "gbk"), ctype="text/plain; charset=iso-2022-jp", cte="base64")
    mail = read_message(raw)
    assert "カード" in mail.body
    assert mail.mislabelled_charset


def test_quoted_printable_utf8_is_decoded() -> None:
    """A quoted-printable UTF-8 body decodes."""
    raw = build(qp(NOTICE, "utf-8"), cte="quoted-printable")
    assert NOTICE in read_message(raw).body


def test_encoded_subject_and_display_name_are_decoded() -> None:
    """RFC 2047 words in Subject and From decode."""
    raw = build(
        b"hello",
        subject=Header("アマゾン", "iso-2022-jp").encode(),
        from_="=?UTF-8?B?44Ki44Oe44K+44Oz?= <info@amazon.co.jp>",
    )
    mail = read_message(raw)
    assert mail.subject == "アマゾン"
    assert mail.from_display == "アマゾン"
    assert mail.from_domain == "amazon.co.jp"


def test_spaced_out_full_width_brand_is_joined() -> None:
    """Full-width, spaced-out and zero-width-split brand names are normalised."""
    raw = build("Ｅ Ｔ Ｃ 利用照会、三 井 住 友、ア\u200bマゾン".encode())
    body = read_message(raw).body
    assert "ETC" in body
    assert "三井住友" in body
    assert "アマゾン" in body


def test_html_link_text_and_target_are_both_kept() -> None:
    """An HTML link keeps its displayed text and its real target; hidden text is counted."""
    html = (
        '<p>ログインは<a href="http://amaz0n-jp.top/x">https://www.amazon.co.jp/</a></p>'
        '<div style="opacity:0">filler words</div>'
    )
    mail = read_message(build(html.encode(), ctype="text/html; charset=utf-8"))
    assert mail.links[0].href == "http://amaz0n-jp.top/x"
    assert mail.links[0].text == "https://www.amazon.co.jp/"
    assert "filler" not in mail.body
    assert mail.hidden_chars > 0
    assert mail.html_only


def test_list_artefacts_are_removed_and_author_restored() -> None:
    """Subject tags, X-Spam headers, footers and "via List" rewriting are undone."""
    extra = (
        "X-Spam-Score: 9.9\r\nList-Id: <osst-users.lists.example.net>\r\n"
        "Reply-To: Shop <member@shop.example>\r\n"
    )
    body = b"hello\n_______________________________________________\nOsst-users mailing list\n"
    raw = build(
        body,
        subject="[Osst-users] [SPAM] sale",
        from_="Shop via Osst-users <osst-users@lists.example.net>",
        extra=extra,
    )
    mail = read_message(raw)
    assert mail.subject == "sale"
    assert mail.from_address == "member@shop.example"
    assert mail.reply_to == ()
    assert "mailing list" not in mail.body
    assert all(not name.lower().startswith(("x-spam", "list-")) for name, _ in mail.headers)


def test_truncated_multipart_still_reads() -> None:
    """A multipart message without its closing boundary and with broken base64 reads."""
    raw = build(
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n5pel5pys!!\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi<a href=x",
        ctype='multipart/alternative; boundary="b"',
    )
    mail = read_message(raw)
    assert mail.defects


@pytest.mark.parametrize("data", [b"", b"\x00\x01binary", b"   \r\n\r\n"])
def test_non_mail_input_raises_a_clear_error(data: bytes) -> None:
    """Input without a header block raises MailUnreadable, not a stack trace."""
    with pytest.raises(MailUnreadable):
        read_message(data)
