"""Evidence: brands and lookalikes, link analysis, lures, header anomalies."""

from __future__ import annotations

from carrierguard.mail.content.brands import default_catalogue, find_brands, lookalike_of
from carrierguard.mail.content.evidence import FEATURE_NAMES, gather, reasons, vector
from carrierguard.mail.content.extract import read_message
from carrierguard.mail.content.lures import find_lures
from carrierguard.mail.content.urls import analyse_link
from tests.mail.content.conftest import build

CAT = default_catalogue()


def test_spaced_out_brand_in_text_is_found() -> None:
    """A brand written with its own spelling variants is recognised."""
    names = {b.name for b in find_brands("【重要】三井住友カードからのお知らせ", CAT)}
    assert "三井住友カード" in names


def test_short_brand_names_need_the_exact_word() -> None:
    """'au' inside an English word is not the carrier au."""
    assert not find_brands("because auto restaurants", CAT)
    assert {b.name for b in find_brands("au PAY のお知らせ", CAT)} == {"au"}


def test_one_letter_swap_of_an_official_domain_is_a_lookalike() -> None:
    """ekl-net imitates eki-net; the official domain itself is not a lookalike."""
    assert lookalike_of("ekl-net.salubrileast.shop", CAT) == "えきねっと"
    assert lookalike_of("www.eki-net.com", CAT) is None
    assert lookalike_of("s3.amazonaws.com", CAT) is None


def test_link_showing_one_domain_and_pointing_to_another_is_flagged() -> None:
    """The displayed URL's domain differs from the target's."""
    ev = analyse_link("http://198.51.100.7/login", "https://www.amazon.co.jp/", CAT)
    assert ev.text_domain_mismatch
    assert ev.ip_host
    assert not analyse_link("https://bit.ly/x", "", CAT).text_domain_mismatch
    assert analyse_link("https://bit.ly/x", "", CAT).shortener


def test_punycode_host_is_flagged() -> None:
    """An xn-- host is reported as IDN."""
    assert analyse_link("http://xn--amazn-mua.com/", "", CAT).punycode


def test_lure_families_are_found_in_japanese_and_english() -> None:
    """Account lock and urgency are recognised in both languages."""
    ja = {
        h.family
        for h in find_lures("お客様のアカウントを一時停止しました。24時間以内にご確認ください")
    }
    en = {h.family for h in find_lures("Your account has been suspended. Act immediately.")}
    assert {"ACCOUNT_LOCK", "URGENT_DEADLINE"} <= ja
    assert {"ACCOUNT_LOCK", "URGENT_DEADLINE"} <= en


def test_brand_named_from_foreign_domain_is_impersonation() -> None:
    """A mail naming Amazon from an unrelated domain with an unrelated link is impersonation."""
    html = '<a href="https://amazon-jp.account-verify.top/">ログイン</a>'
    raw = build(
        ("Amazonアカウントを停止しました。" + html).encode(),
        subject="Amazon からの重要なお知らせ",
        from_="Amazon <info@account-verify.top>",
        ctype="text/html; charset=utf-8",
        extra="Reply-To: x@other.example\r\n",
    )
    ev = gather(read_message(raw), CAT)
    assert ev.brand_from_unofficial and ev.brand_links_unofficial
    assert ev.reply_to_differs
    codes = {r.code for r in reasons(ev, ())}
    assert {"BRAND_IMPERSONATION", "LOOKALIKE_DOMAIN", "LURE_ACCOUNT_LOCK"} <= codes


def test_official_notice_in_japanese_has_no_impersonation() -> None:
    """A Japanese notice from the brand's own domain linking to it raises no brand evidence."""
    raw = build(
        "ご注文ありがとうございます。https://www.amazon.co.jp/gp/css/order-history".encode(),
        subject="Amazon.co.jp ご注文の確認",
        from_="Amazon.co.jp <auto-confirm@amazon.co.jp>",
    )
    ev = gather(read_message(raw), CAT)
    assert not ev.brand_from_unofficial and not ev.brand_links_unofficial
    assert ev.brand_from_official
    assert len(vector(ev, (0.1,))) == len(FEATURE_NAMES)
