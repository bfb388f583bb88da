"""Special-use names (RFC 2606, RFC 6761...): never scored by the URL model, .onion aside."""

from __future__ import annotations

from importlib import resources

import pytest

from carrierguard.mail.content import model as model_io
from carrierguard.mail.content.brands import default_catalogue
from carrierguard.mail.content.evidence import (
    FEATURE_NAMES,
    gather,
    public_url_scores,
    reasons,
    scored_hosts,
    vector,
)
from carrierguard.mail.content.extract import read_message
from carrierguard.mail.content.scan import scan_bytes
from carrierguard.mail.content.urls import analyse_link, public_host, special_use
from tests.mail.content.conftest import build

CAT = default_catalogue()
URL_MAX = FEATURE_NAMES.index("url_model_max")
URL_MEAN = FEATURE_NAMES.index("url_model_mean")


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("shop.example", "reserved"),
        ("a.b.test", "reserved"),
        ("x.invalid", "reserved"),
        ("example.com", "reserved"),
        ("WWW.Example.ORG.", "reserved"),
        ("mail.example.net", "reserved"),
        ("name.alt", "reserved"),
        ("localhost", "loopback"),
        ("app.localhost", "loopback"),
        ("printer.local", "local"),
        ("nas.home.arpa", "local"),
        ("wiki.internal", "local"),
        ("abcdefghijklmnop.onion", "onion"),
        # Ordinary names that merely contain a special-use word.
        ("example.co.jp", ""),
        ("myexample.com", ""),
        ("example.com.evil.top", ""),
        ("test.com", ""),
        ("local.jp", ""),
        ("localhost.com", ""),
        ("arpa", ""),
        ("", ""),
    ],
)
def test_special_use_kind_of_a_host(host: str, kind: str) -> None:
    """Only the name or its last labels decide; a look-alike public name is ordinary."""
    assert special_use(host) == kind
    assert public_host(host) == (kind in ("", "onion"))


def test_link_evidence_carries_the_kind() -> None:
    """analyse_link reports the kind; ordinary and unparsable links have none."""
    assert analyse_link("https://shop.example/orders", "", CAT).special_use == "reserved"
    assert analyse_link("https://www.amazon.co.jp/", "", CAT).special_use == ""
    assert analyse_link("mailto:a@example.com", "", CAT).special_use == ""


def test_scored_hosts_match_the_model_order() -> None:
    """The evidence module lines scores up with hosts exactly as model.web_hosts lists them."""
    links = " ".join(f"https://h{i}.example.jp/ http://h{i}.example.jp/x" for i in range(25))
    ev = gather(read_message(build(f"mailto:a@b.jp {links} https://shop.example/".encode())), CAT)
    assert scored_hosts(ev.links) == model_io.web_hosts(ev)
    assert len(scored_hosts(ev.links)) == 20


def test_reserved_host_scores_are_dropped_from_features_and_reasons() -> None:
    """A .example host's URL score is neither a feature nor a URL_MODEL_HIGH reason."""
    ev = gather(read_message(build(b"https://shop.example/orders https://bad.top/x")), CAT)
    assert scored_hosts(ev.links) == ["shop.example", "bad.top"]
    assert public_url_scores(ev, (0.99, 0.2)) == (0.2,)
    row = vector(ev, (0.99, 0.2))
    assert row[URL_MAX] == pytest.approx(0.2)
    assert row[URL_MEAN] == pytest.approx(0.2)
    assert "URL_MODEL_HIGH" not in {r.code for r in reasons(ev, (0.99, 0.2))}
    # The public host alone still raises it.
    assert "URL_MODEL_HIGH" in {r.code for r in reasons(ev, (0.1, 0.95))}


def test_only_non_public_hosts_leave_no_url_score() -> None:
    """Links only to reserved, loopback and local names look like no scored link at all."""
    ev = gather(
        read_message(
            build(
                b"http://localhost:8080/ https://printer.local/ https://x.invalid/ https://a.test"
            )
        ),
        CAT,
    )
    row = vector(ev, (0.99, 0.99, 0.99, 0.99))
    assert row[URL_MAX] == 0.0 and row[URL_MEAN] == 0.0
    assert row[FEATURE_NAMES.index("n_links")] > 0  # the links still count as links


def test_scores_not_lined_up_with_hosts_are_kept() -> None:
    """A caller's own score list (not one per host) is taken as it is."""
    ev = gather(read_message(build(b"https://shop.example/")), CAT)
    assert public_url_scores(ev, (0.5, 0.7)) == (0.5, 0.7)


def test_onion_link_is_scored_and_named() -> None:
    """Anyone can create an onion service: its score stays, and the reader is told."""
    ev = gather(read_message(build(b"http://abcdefghijklmnopqrstuvwx.onion/pay")), CAT)
    assert public_url_scores(ev, (0.97,)) == (0.97,)
    codes = [r.code for r in reasons(ev, (0.97,))]
    assert "URL_ONION_HOST" in codes and "URL_MODEL_HIGH" in codes


def _demo(name: str) -> bytes:
    return resources.files("carrierguard.data").joinpath("demo_mail", name).read_bytes()


def test_shipped_model_on_the_demo_mails() -> None:
    """The legitimate order confirmation (shop.example) has no URL_MODEL_HIGH; the card
    phishing, whose lure host is also .example, is still refused at every strength."""
    model = model_io.load()
    order = scan_bytes("03", _demo("03-order-confirmation.eml"), model, "strong", CAT)
    assert order.verdict == "deliver"
    assert "URL_MODEL_HIGH" not in {r["code"] for r in order.reasons}
    for strength in ("weak", "standard", "strong"):
        card = scan_bytes("01", _demo("01-card-phishing.eml"), model, strength, CAT)
        assert card.verdict == "reject", strength
