"""Brands that phishers impersonate, their official domains, and lookalike detection.

The catalogue is ``carrierguard/data/brands.toml``. ``find_brands`` says which brands a text
names; ``is_official`` says whether a domain belongs to a brand; ``lookalike_of`` says
whether a domain imitates one (contains its token or sits one or two edits from it after
homoglyph folding). Pure functions over a loaded, immutable catalogue.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from rapidfuzz.distance import Levenshtein

from carrierguard.mail.content.normalize import compact_for_matching

# Characters phishers swap for look-alikes in domains; folded before comparing.
_HOMOGLYPHS = str.maketrans({"0": "o", "1": "l", "3": "e", "5": "s", "|": "l", "i": "l"})


@dataclass(frozen=True, slots=True)
class Brand:
    """One impersonated brand: its names, official domains and lookalike tokens."""

    name: str
    aliases: tuple[str, ...]
    strict: tuple[str, ...]
    domains: tuple[str, ...]
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Catalogue:
    """All brands plus shared infrastructure domains that are never lookalikes.

    The indexes are derived in ``parse_catalogue`` so that per-link checks stay cheap.
    """

    brands: tuple[Brand, ...]
    not_lookalike: frozenset[str]
    official_index: frozenset[str]
    token_pattern: re.Pattern[str]
    token_brand: tuple[tuple[str, str], ...]  # (folded token, brand name), longest first
    # Aliases that contain no other alias, split by whether they are plain ASCII (only
    # those can occur in ASCII text): enough to tell whether any alias occurs at all.
    ascii_aliases: tuple[str, ...]
    other_aliases: tuple[str, ...]
    strict_words: tuple[str, ...]  # every strict word, longest first
    strict_pattern: re.Pattern[str]  # every strict word, matched in normalised text
    by_alias: dict[str, tuple[int, ...]]  # alias or strict word -> brand positions


def parse_catalogue(text: str) -> Catalogue:
    """Build a catalogue from TOML text (the format of ``data/brands.toml``)."""
    data = tomllib.loads(text)
    brands = []
    for row in data.get("brand", []):
        domains = tuple(d.lower() for d in row["domains"])
        tokens = row.get("tokens") or [d.split(".")[0] for d in domains if len(d.split(".")[0]) > 3]
        brands.append(
            Brand(
                name=row["name"],
                aliases=tuple(compact_for_matching(a) for a in row.get("aliases", [])),
                strict=tuple(row.get("strict", [])),
                domains=domains,
                tokens=tuple(t.lower() for t in tokens),
            )
        )
    # Longest first, then catalogue order: a token two brands share (smbc) names the brand
    # listed first, whatever the process's string hashing.
    pairs = sorted(
        dict.fromkeys(
            (t.translate(_HOMOGLYPHS), b.name) for b in brands for t in b.tokens if len(t) >= 3
        ),
        key=lambda p: -len(p[0]),
    )
    by_alias: dict[str, list[int]] = {}
    for i, b in enumerate(brands):
        for word in (*b.aliases, *b.strict):
            by_alias.setdefault(word, []).append(i)
    aliases = sorted({a for b in brands for a in b.aliases}, key=len, reverse=True)
    stricts = sorted({w for b in brands for w in b.strict}, key=len, reverse=True)
    # For the "does any alias occur" test an alias containing a shorter one is redundant.
    minimal = [a for a in aliases if not any(b != a and b in a for b in aliases)]
    return Catalogue(
        ascii_aliases=tuple(a for a in minimal if a.isascii()),
        other_aliases=tuple(a for a in minimal if not a.isascii()),
        strict_words=tuple(stricts),
        strict_pattern=re.compile(
            r"(?<![A-Za-z0-9])(?:"
            + ("|".join(re.escape(w) for w in stricts) or "(?!)")
            + r")(?![A-Za-z0-9])"
        ),
        by_alias={k: tuple(v) for k, v in by_alias.items()},
        brands=tuple(brands),
        not_lookalike=frozenset(data.get("not_lookalike", [])),
        official_index=frozenset(d for b in brands for d in b.domains),
        token_pattern=re.compile("|".join(re.escape(t) for t, _ in pairs) or "(?!)"),
        token_brand=tuple(pairs),
    )


@cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped in the package."""
    ref = resources.files("carrierguard.data").joinpath("brands.toml")
    return parse_catalogue(ref.read_text(encoding="utf-8"))


def find_brands(text: str, catalogue: Catalogue) -> tuple[Brand, ...]:
    """Brands named in ``text`` (already normalised), in catalogue order.

    Aliases are plain substrings of the compacted text (``str.__contains__`` is much faster
    than one alternation of them in ``re``); ASCII text cannot hold a non-ASCII alias. Once
    any alias occurs, every alias and strict word that occurs in the compacted text counts.
    Strict words are whole words of ``text``: the word-boundary pattern only runs when one
    of them occurs in it at all.
    """
    compact = compact_for_matching(text)
    hits: set[int] = set()
    if any(a in compact for a in catalogue.ascii_aliases) or (
        not compact.isascii() and any(a in compact for a in catalogue.other_aliases)
    ):
        for alias, positions in catalogue.by_alias.items():
            if alias in compact:
                hits.update(positions)
    if any(w in text for w in catalogue.strict_words):
        for m in catalogue.strict_pattern.finditer(text):
            hits.update(catalogue.by_alias.get(m.group(0), ()))
    return tuple(catalogue.brands[i] for i in sorted(hits))


def domain_matches(domain: str, official: str) -> bool:
    """True when ``domain`` is ``official`` or one of its subdomains."""
    return domain == official or domain.endswith("." + official)


def is_official(domain: str, brand: Brand) -> bool:
    """True when ``domain`` (a host or registrable domain) belongs to ``brand``."""
    domain = domain.lower().rstrip(".")
    return any(domain_matches(domain, d) for d in brand.domains)


def _suffixes(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def official_anywhere(domain: str, catalogue: Catalogue) -> bool:
    """True when ``domain`` belongs to any catalogued brand."""
    return any(s in catalogue.official_index for s in _suffixes(domain.lower().rstrip(".")))


def lookalike_of(host: str, catalogue: Catalogue) -> str | None:
    """Name of the brand whose domain ``host`` imitates, or None.

    Official domains and shared infrastructure are never lookalikes. Cached per host: the
    same hosts recur across messages.
    """
    return _lookalike(host.lower().rstrip("."), catalogue)


@lru_cache(maxsize=65536)
def _lookalike(host: str, catalogue: Catalogue) -> str | None:
    if not host or official_anywhere(host, catalogue):
        return None
    if any(s in catalogue.not_lookalike for s in _suffixes(host)):
        return None
    folded = host.translate(_HOMOGLYPHS).replace("rn", "m").replace("vv", "w")
    m = catalogue.token_pattern.search(folded)
    if m:
        return next(name for tok, name in catalogue.token_brand if tok == m.group(0))
    for label in folded.split("."):
        if len(label) < 5:
            continue
        for tok, name in catalogue.token_brand:
            if (
                len(tok) >= 5
                and abs(len(label) - len(tok)) <= 1
                and Levenshtein.distance(label, tok, score_cutoff=1) <= 1
            ):
                return name
    return None
