"""Evidence about one message: links, brand impersonation, lures, header anomalies.

``gather`` reads a ``MailText`` (relay artefacts already removed) and returns ``Evidence``,
a frozen value that both the model (``vector``) and the reasons shown to people
(``reasons``) are built from. The language of the text is deliberately not evidence.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from carrierguard.mail.content.brands import Catalogue, find_brands, is_official, lookalike_of
from carrierguard.mail.content.extract import MailText
from carrierguard.mail.content.lures import LURE_FAMILIES, LureHit, find_lures
from carrierguard.mail.content.urls import (
    LinkEvidence,
    analyse_link,
    public_host,
    registrable_domain,
)

MAX_LINKS = 60
# The URL model scores at most this many distinct web hosts (``model.MAX_HOSTS``).
MAX_SCORED_HOSTS = 20
# Brands and lures are looked for in the start of the body, where a lure has to be.
BODY_WINDOW = 6000
_RISKY_ATTACHMENT = re.compile(r"\.(exe|scr|com|bat|js|vbs|jar|iso|img|html?|zip|rar|7z|lnk)$")
_ADDRESS_IN_TEXT = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[a-z]{2,})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reason:
    """One human-readable reason with a stable code."""

    code: str
    message_ja: str
    message_en: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the content stage found, before any model looks at it."""

    links: tuple[LinkEvidence, ...]
    brands_in_header: tuple[str, ...]
    brands_in_body: tuple[str, ...]
    from_lookalike: str | None
    brand_from_official: bool
    brand_from_unofficial: bool
    brand_links_unofficial: bool
    lures: tuple[LureHit, ...]
    reply_to_differs: bool
    message_id_differs: bool
    display_names_other_domain: bool
    from_unknown: bool
    hidden_chars: int
    forms: int
    html_only: bool
    mislabelled_charset: bool
    attachments: int
    risky_attachment: bool


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2].strip(" <>").lower()
    return registrable_domain(domain) if domain else ""


def gather(mail: MailText, catalogue: Catalogue) -> Evidence:
    """Collect evidence from ``mail``; pure and deterministic."""
    links = tuple(analyse_link(x.href, x.text, catalogue) for x in mail.links[:MAX_LINKS])
    header_brands = find_brands(mail.from_display + "\n" + mail.subject, catalogue)
    body_brands = find_brands(mail.body[:BODY_WINDOW], catalogue)
    named = {b.name: b for b in (*header_brands, *body_brands)}
    from_domain = mail.from_domain
    from_official = bool(from_domain) and any(is_official(from_domain, b) for b in named.values())
    web = [x for x in links if x.host and x.scheme in ("http", "https", "")]
    links_unofficial = bool(named) and any(
        not any(is_official(x.host, b) for b in named.values()) for x in web
    )
    from_reg = registrable_domain(from_domain) if from_domain else ""
    reply = [_domain_of(a) for a in mail.reply_to]
    mid = mail.message_id.rpartition("@")[2].strip(" <>").lower()
    shown = {registrable_domain(d.lower()) for d in _ADDRESS_IN_TEXT.findall(mail.from_display)}
    return Evidence(
        links=links,
        brands_in_header=tuple(b.name for b in header_brands),
        brands_in_body=tuple(b.name for b in body_brands),
        from_lookalike=lookalike_of(from_domain, catalogue) if from_domain else None,
        brand_from_official=from_official,
        brand_from_unofficial=bool(named) and not from_official,
        brand_links_unofficial=links_unofficial,
        lures=find_lures(mail.subject + "\n" + mail.body[:BODY_WINDOW]),
        reply_to_differs=bool(from_reg) and any(r and r != from_reg for r in reply),
        message_id_differs=bool(from_reg and mid) and registrable_domain(mid) != from_reg,
        display_names_other_domain=bool(from_reg) and any(d != from_reg for d in shown),
        from_unknown=not from_domain,
        hidden_chars=mail.hidden_chars,
        forms=mail.forms,
        html_only=mail.html_only,
        mislabelled_charset=mail.mislabelled_charset,
        attachments=len(mail.attachments),
        risky_attachment=any(_RISKY_ATTACHMENT.search(a.lower()) for a in mail.attachments),
    )


def scored_hosts(links: tuple[LinkEvidence, ...]) -> list[str]:
    """The hosts the URL model is given, in its order (``model.web_hosts``, repeated here
    because the model module builds on this one): distinct http(s) hosts, at most 20."""
    seen: dict[str, None] = {}
    for link in links:
        if link.host and link.scheme in ("http", "https", ""):
            seen.setdefault(link.host, None)
    return list(seen)[:MAX_SCORED_HOSTS]


def public_url_scores(ev: Evidence, url_scores: tuple[float, ...]) -> tuple[float, ...]:
    """``url_scores`` without those of hosts no one can hold on the public internet.

    ``url_scores`` holds one score per ``scored_hosts(ev.links)``. The URL model knows
    public phishing hosts; a reserved, loopback or local-network name (``urls.special_use``)
    is none, and whatever it scores there is noise. Scores that do not line up with the
    hosts (a caller's own list) are taken as they are.
    """
    hosts = scored_hosts(ev.links)
    if len(hosts) != len(url_scores):
        return url_scores
    return tuple(s for h, s in zip(hosts, url_scores, strict=True) if public_host(h))


FEATURE_NAMES: tuple[str, ...] = (
    "n_links", "n_link_domains", "ip_host", "idn_host", "shortener", "userinfo",
    "link_text_mismatch", "lookalike_link", "lookalike_from", "brand_in_header",
    "brand_in_body", "brand_from_unofficial", "brand_links_unofficial", "brand_from_official",
    "share_links_official", *(f"lure_{f.lower()}" for f in LURE_FAMILIES), "n_lures",
    "reply_to_differs", "message_id_differs", "display_names_other_domain", "from_unknown",
    "hidden_text", "form", "html_only", "mislabelled_charset", "attachments",
    "risky_attachment", "url_model_max", "url_model_mean",
)  # fmt: skip


def vector(ev: Evidence, url_scores: tuple[float, ...]) -> list[float]:
    """Numeric features in ``FEATURE_NAMES`` order; ``url_scores`` from the URL model.

    Scores of non-public hosts are left out (``public_url_scores``).
    """
    url_scores = public_url_scores(ev, url_scores)
    web = [x for x in ev.links if x.host]
    families = {h.family for h in ev.lures}
    out = [
        math.log1p(len(web)),
        math.log1p(len({x.domain for x in web})),
        float(any(x.ip_host for x in web)),
        float(any(x.punycode or x.non_ascii_host for x in web)),
        float(any(x.shortener for x in web)),
        float(any(x.userinfo for x in web)),
        float(any(x.text_domain_mismatch for x in web)),
        float(any(x.lookalike for x in web)),
        float(ev.from_lookalike is not None),
        float(bool(ev.brands_in_header)),
        float(bool(ev.brands_in_body)),
        float(ev.brand_from_unofficial),
        float(ev.brand_links_unofficial),
        float(ev.brand_from_official),
        (sum(x.official for x in web) / len(web)) if web else 0.0,
        *(float(f in families) for f in LURE_FAMILIES),
        float(len(families)),
        float(ev.reply_to_differs),
        float(ev.message_id_differs),
        float(ev.display_names_other_domain),
        float(ev.from_unknown),
        float(ev.hidden_chars > 20),
        float(ev.forms > 0),
        float(ev.html_only),
        float(ev.mislabelled_charset),
        math.log1p(ev.attachments),
        float(ev.risky_attachment),
        max(url_scores, default=0.0),
        (sum(url_scores) / len(url_scores)) if url_scores else 0.0,
    ]
    return out


_LURE_TEXT = {
    "ACCOUNT_LOCK": ("アカウント停止・制限をほのめかしています", "threatens an account lock"),
    "PAYMENT_FAILURE": ("支払い失敗・未払いを装っています", "claims a failed payment"),
    "URGENT_DEADLINE": ("期限を切って急がせています", "presses with an urgent deadline"),
    "PRIZE": ("当選・特典・還付をうたっています", "promises a prize, reward or refund"),
    "CREDENTIAL_REQUEST": (
        "ログインや個人情報の入力を求めています",
        "asks to log in or enter details",
    ),
}


def reasons(ev: Evidence, url_scores: tuple[float, ...]) -> list[Reason]:
    """Reasons a person can read, strongest first."""
    url_scores = public_url_scores(ev, url_scores)
    out: list[Reason] = []
    named = (*ev.brands_in_header, *ev.brands_in_body)
    if ev.from_lookalike or any(x.lookalike for x in ev.links):
        brand = ev.from_lookalike or next(x.lookalike for x in ev.links if x.lookalike)
        out.append(
            Reason(
                "LOOKALIKE_DOMAIN",
                f"{brand} に似せたドメインがあります",
                f"a domain imitates {brand}",
            )
        )
    if named and (ev.brand_from_unofficial or ev.brand_links_unofficial):
        out.append(
            Reason(
                "BRAND_IMPERSONATION",
                f"{named[0]} を名乗っていますが送信元・リンクが公式ドメインではありません",
                f"names {named[0]} but sender or links are not its official domains",
            )
        )
    if any(x.text_domain_mismatch for x in ev.links):
        out.append(
            Reason(
                "LINK_TEXT_MISMATCH",
                "表示されている URL と実際のリンク先が違います",
                "a link shows one address and points to another",
            )
        )
    if any(x.ip_host for x in ev.links):
        out.append(Reason("URL_IP_HOST", "IP アドレスへのリンクがあります", "links to a bare IP"))
    if any(x.shortener for x in ev.links):
        out.append(Reason("URL_SHORTENER", "短縮 URL が使われています", "uses a URL shortener"))
    if any(x.punycode or x.non_ascii_host for x in ev.links):
        out.append(
            Reason(
                "URL_IDN_HOST",
                "国際化ドメイン (punycode) へのリンクがあります",
                "links to an internationalised (punycode) domain",
            )
        )
    if any(x.special_use == "onion" for x in ev.links):
        out.append(
            Reason(
                "URL_ONION_HOST",
                "Tor の匿名サイト (.onion) へのリンクがあります",
                "links to a Tor onion service (.onion)",
            )
        )
    if url_scores and max(url_scores) >= 0.9:
        out.append(
            Reason(
                "URL_MODEL_HIGH",
                "リンク先がフィッシング URL の特徴に合致します",
                "a link looks like known phishing URLs",
            )
        )
    for hit in ev.lures:
        ja, en = _LURE_TEXT[hit.family]
        out.append(Reason(f"LURE_{hit.family}", ja, en))
    if ev.reply_to_differs:
        out.append(
            Reason(
                "REPLY_TO_MISMATCH",
                "返信先が送信元と異なるドメインです",
                "Reply-To is a different domain from From",
            )
        )
    if ev.hidden_chars > 20:
        out.append(
            Reason(
                "HIDDEN_TEXT", "見えない文字列が埋め込まれています", "contains hidden filler text"
            )
        )
    if ev.risky_attachment:
        out.append(
            Reason(
                "RISKY_ATTACHMENT",
                "危険な種類の添付ファイルがあります",
                "carries a risky attachment type",
            )
        )
    return out
