"""Properties of the From parser: it never crashes, and a display name never decides the domain."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.mail.auth.author import AuthorDomain, AuthorProblem, author_domain
from carrierguard.mail.message import Message

LABEL = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_any_from_value_gives_a_domain_or_a_named_problem(value: str) -> None:
    """Whatever the From field holds, the parser answers instead of raising."""
    value = value.replace("\r", " ").replace("\n", " ")
    raw = f"From: {value}\r\nSubject: x\r\n\r\nbody\r\n".encode("utf-8", "surrogateescape")
    got = author_domain(Message.parse(raw))
    assert isinstance(got, AuthorDomain | AuthorProblem)
    if isinstance(got, AuthorDomain):
        assert got.domain.isascii() and "." in got.domain


@settings(max_examples=200, deadline=None)
@given(
    display=st.text(
        alphabet=st.characters(blacklist_characters='"\\\r\n', blacklist_categories=("Cs",)),
        max_size=30,
    ),
    local=LABEL,
    labels=st.lists(LABEL, min_size=2, max_size=4),
)
def test_quoted_display_name_never_changes_the_domain(
    display: str, local: str, labels: list[str]
) -> None:
    """Even a display name that looks like an address leaves the angle address in charge."""
    domain = ".".join(labels)
    raw = f'From: "{display} ceo@bank.example" <{local}@{domain}>\r\n\r\nx\r\n'.encode()
    got = author_domain(Message.parse(raw))
    assert isinstance(got, AuthorDomain) and got.domain == domain
