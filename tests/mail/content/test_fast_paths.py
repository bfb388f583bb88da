"""The scan path's shortcuts give exactly what the plain computation they replace gives.

Each test holds the straightforward version (as the code read before it was made faster)
and compares it with the module's answer on inputs chosen to hit the shortcut's edges.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
import zlib
from email.header import decode_header
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.mail.content import hashing, lures
from carrierguard.mail.content import model as model_io
from carrierguard.mail.content.brands import default_catalogue, find_brands, parse_catalogue
from carrierguard.mail.content.extract import decode_header_value, read_message
from carrierguard.mail.content.html import (
    _BLOCK,
    _HIDDEN_STYLE,
    _SKIP,
    _VOID,
    HtmlLink,
    html_to_text,
)
from carrierguard.mail.content.normalize import (
    _BLANK_LINES,
    _HSPACE,
    _SPACED_OUT,
    _SPACED_OUT_CJK,
    compact_for_matching,
    normalize_text,
    strip_invisible,
)
from tests.mail.content.conftest import build

CAT = default_catalogue()

# Characters that exercise every step of normalisation and matching.
_ALPHABET = st.sampled_from(
    list("ab E T C\t\t  \n\n\r\r\n.")
    + list("三井住友カード アマゾン\u3000ｱｶｳﾝﾄ")
    + ["\u200b", "\u00ad", "\ufeff", "\u2028", "\x1c", "\x85", "\xa0", "㍿", "Ｅ", "①", "Σ"]
    + ["amazon", "smbc", "JCB", "au", "VISA", "至急", "unusual", "signin", "24時間以内"]
)
_TEXTS = st.lists(_ALPHABET, max_size=60).map("".join)


def _old_normalize(text: str) -> str:
    text = strip_invisible(unicodedata.normalize("NFKC", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACED_OUT_CJK.sub(lambda m: _HSPACE.sub("", m.group(0)), text)
    text = _SPACED_OUT.sub(lambda m: _HSPACE.sub("", m.group(0)), text)
    text = _HSPACE.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def test_str_split_removes_exactly_what_regex_whitespace_matches() -> None:
    """For every code point, ``str.split`` and ``re``'s ``\\s`` agree on whitespace."""
    differ = [
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF
        and ("".join(chr(cp).split()) == "") != bool(re.fullmatch(r"\s", chr(cp)))
    ]
    assert differ == []


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_compact_and_normalize_match_the_plain_pipeline(text: str) -> None:
    """Skipped steps (ASCII text, no tabs or double spaces) change nothing."""
    assert compact_for_matching(text) == re.sub(r"\s+", "", text).lower()
    assert normalize_text(text) == _old_normalize(text)


def _old_find_brands(text: str) -> set[str]:
    aliases = sorted({a for b in CAT.brands for a in b.aliases}, key=len, reverse=True)
    alternation = re.compile("|".join(re.escape(a) for a in aliases))
    compact = re.sub(r"\s+", "", text).lower()
    hits: set[int] = set()
    if alternation.search(compact):
        for alias, positions in CAT.by_alias.items():
            if alias in compact:
                hits.update(positions)
    for m in CAT.strict_pattern.finditer(text):
        hits.update(CAT.by_alias.get(m.group(0), ()))
    return {CAT.brands[i].name for i in hits}


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_brand_search_by_substrings_matches_the_alternation(text: str) -> None:
    """Substring tests over the minimal aliases find what one alternation found."""
    assert {b.name for b in find_brands(text, CAT)} == _old_find_brands(text)


def test_brand_search_finds_each_alias_and_strict_word_alone() -> None:
    """Every alias (in ASCII or not) and every strict word is found on its own."""
    for brand in CAT.brands:
        for word in (*brand.aliases, *brand.strict):
            text = f"xx {word} yy"
            assert brand.name in {b.name for b in find_brands(text, CAT)}, word
            assert {b.name for b in find_brands(text, CAT)} == _old_find_brands(text)


def test_shared_lookalike_token_names_the_brand_listed_first() -> None:
    """Token order no longer depends on string hashing: the first brand listed wins."""
    code = (
        "from carrierguard.mail.content.brands import default_catalogue, lookalike_of;"
        "c = default_catalogue();"
        "print([n for t, n in c.token_brand if t in ('smbc', 'mufg')],"
        " lookalike_of('smbc-card-login.example.top', c))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1", "2", "3")
    }
    assert len(outputs) == 1
    first = next(b.name for b in CAT.brands if "smbc" in b.tokens)
    assert first in outputs.pop().split("]")[1]


def test_minimal_aliases_keep_an_empty_alias_meaningful() -> None:
    """A catalogue whose aliases nest still finds the brand by the longer alias."""
    cat = parse_catalogue(
        '[[brand]]\nname = "A"\naliases = ["Amazon", "Amazon Pay"]\ndomains = ["a.example"]\n'
    )
    assert cat.ascii_aliases == ("amazon",)
    assert [b.name for b in find_brands("AmazonPay のご利用", cat)] == ["A"]
    assert find_brands("nothing here", cat) == ()


def _old_find_lures(text: str) -> list[tuple[str, str]]:
    compact = re.sub(r"\s+", "", text).lower()
    hits = []
    for family, patterns in lures._COMPILED.items():
        for pattern in patterns:
            m = pattern.search(compact)
            if m:
                hits.append((family, m.group(0)[:40]))
                break
    return hits


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_lures_skipping_non_ascii_patterns_on_ascii_text_changes_nothing(text: str) -> None:
    """Patterns that need non-ASCII text are skipped only where they cannot match."""
    assert [(h.family, h.phrase) for h in lures.find_lures(text)] == _old_find_lures(text)


@pytest.mark.parametrize(
    ("pattern", "ascii_possible"),
    [
        ("(ア|イ)x", False),
        ("(ア|i)x", True),
        ("ア?x", True),
        ("(ア){1,3}", False),
        ("[ア-ン]", False),
        ("[^ア]", True),
        ("[アa]", True),
        ("(?i)ア", True),
        ("(?i:\u212a)", True),  # KELVIN SIGN matches "k" when case is ignored
        ("(至急|\\d+日以内)", False),
        ("\\w+", True),
    ],
)
def test_non_ascii_analysis_is_sound(pattern: str, ascii_possible: bool) -> None:
    """Only patterns that provably need a non-ASCII character are marked so."""
    assert lures._ascii_possible(re.compile(pattern)) is ascii_possible


def test_every_lure_pattern_skipped_for_ascii_needs_non_ascii_to_match() -> None:
    """The English patterns stay in the ASCII table; the Japanese ones leave it."""
    for family, patterns in lures._COMPILED.items():
        kept = lures._ASCII[family]
        for p in patterns:
            assert (p in kept) == (not any(ord(c) > 0x7F for c in p.pattern)), p.pattern


def _old_char_ngrams(text: str, n_min: int, n_max: int, n_features: int) -> np.ndarray:
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = []
    length = len(cps)
    with np.errstate(over="ignore"):
        for n in range(n_min, n_max + 1):
            if length < n:
                break
            h = np.zeros(length - n + 1, dtype=np.uint64)
            for j in range(n):
                h = h * hashing._BASE + cps[j : length - n + 1 + j]
            h = (h ^ np.uint64(n * 0x632BE59BD9B4E019 & 0xFFFFFFFFFFFFFFFF)) * hashing._MIX
            parts.append(((h >> hashing._SHIFT) % np.uint64(n_features)).astype(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _old_word_ngrams(text: str, n_max: int, n_features: int) -> np.ndarray:
    words = hashing._WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.int64)

    def finish(h: np.ndarray, salt: int) -> np.ndarray:
        h = (h ^ np.uint64(salt * 0x632BE59BD9B4E019 & 0xFFFFFFFFFFFFFFFF)) * hashing._MIX
        return ((h >> hashing._SHIFT) % np.uint64(n_features)).astype(np.int64)

    base = np.array([zlib.crc32(w.encode("utf-8")) for w in words], dtype=np.uint64)
    parts = [finish(base, 101)]
    with np.errstate(over="ignore"):
        for n in range(2, n_max + 1):
            if len(base) < n:
                break
            h = np.zeros(len(base) - n + 1, dtype=np.uint64)
            for j in range(n):
                h = h * hashing._BASE + base[j : len(base) - n + 1 + j]
            parts.append(finish(h, 100 + n))
    return np.concatenate(parts)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80),
    st.sampled_from([(1, 3, 2**18), (3, 5, 2**18), (2, 4, 1000), (1, 1, 7)]),
    st.sampled_from([2**17, 1000]),
)
def test_incremental_ngram_hashes_equal_hashes_from_scratch(
    text: str, char_params: tuple[int, int, int], word_features: int
) -> None:
    """Same indices, same order, for power-of-two and other table sizes."""
    n_min, n_max, n_features = char_params
    assert np.array_equal(
        hashing.char_ngram_indices(text, n_min, n_max, n_features),
        _old_char_ngrams(text, n_min, n_max, n_features),
    )
    for n_max_words in (1, 2, 3):
        assert np.array_equal(
            hashing.word_ngram_indices(text, n_max_words, word_features),
            _old_word_ngrams(text, n_max_words, word_features),
        )


@pytest.fixture(scope="module")
def shipped() -> model_io.PhishingModel:
    """The model file shipped in the package."""
    return model_io.load()


def test_url_scores_from_the_cache_equal_fresh_scores(shipped: model_io.PhishingModel) -> None:
    """Scores come back per host, in order, with repeats and any case, as computed afresh."""
    hosts = ["Login.Example-Bank.top", "www.amazon.co.jp", "login.example-bank.top", "x.y"]

    def fresh(host: str) -> float:
        row = [
            hashing.counted(
                hashing.char_ngram_indices(
                    host.lower(), *model_io.URL_NGRAMS, model_io.URL_FEATURES
                )
            )
        ]
        return float(shipped.url_scorer.proba_rows([row])[0, 0])

    expected = tuple(fresh(h) for h in hosts)
    assert shipped.url_scores(hosts) == expected
    assert shipped.url_scores(hosts) == expected  # now from the cache
    assert shipped.url_scores(hosts[::-1]) == expected[::-1]
    assert expected[0] == expected[2]


def test_cache_is_emptied_when_full(
    shipped: model_io.PhishingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache never grows past its bound (plus one message's hosts)."""
    monkeypatch.setattr(model_io, "URL_CACHE_SIZE", 5)
    for i in range(30):
        shipped.url_scores([f"h{i}.example", f"g{i}.example"])
        assert len(shipped._url_cache) <= 5 + 2


_HTML = st.lists(
    st.sampled_from(
        [
            "<div>",
            "</div>",
            "<p>",
            "</p>",
            "<span style='display:none'>",
            "<span style=''>",
            "<font>",
            "</span>",
            "<a href='http://x.example/'>",
            "</a>",
            "<script>",
            "</script>",
            "<head>",
            "</head>",
            "<br/>",
            "<img alt='Amazon'>",
            "<form action='http://f.example/'>",
            "text",
            "&amp; ",
            "\n",
            "<b hidden>",
            "</b>",
            "<!-- c -->",
            "<",
            "</",
        ]
    ),
    max_size=40,
).map("".join)


class _OldConverter(HTMLParser):
    """html._Converter as it was: the parser's line bookkeeping, a scan of the stack."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[HtmlLink] = []
        self.hidden_chars = 0
        self.forms = 0
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self._skip = 0
        self._hidden = 0
        self._anchor: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag in _BLOCK:
            self.out.append("\n")
        if tag == "a" and "href" in a:
            self._close_anchor()
            self._anchor = (a["href"].strip(), [])
        elif tag == "area" and "href" in a:
            self.links.append(HtmlLink(a["href"].strip(), a.get("alt", "")))
        elif tag == "form":
            self.forms += 1
            if a.get("action"):
                self.links.append(HtmlLink(a["action"].strip(), ""))
        elif tag == "img" and a.get("alt") and self._anchor is not None:
            self._anchor[1].append(a["alt"])
        if tag in _VOID:
            return
        hides = tag in _SKIP or bool(_HIDDEN_STYLE.search(a.get("style", ""))) or "hidden" in a
        self._stack.append((tag, hides))
        if tag in _SKIP:
            self._skip += 1
        elif hides:
            self._hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_anchor()
        if tag in _BLOCK:
            self.out.append("\n")
        if not any(t == tag for t, _ in self._stack):
            return
        while self._stack:
            t, hides = self._stack.pop()
            if t in _SKIP:
                self._skip -= 1
            elif hides:
                self._hidden -= 1
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._hidden:
            self.hidden_chars += len(data.strip())
            return
        self.out.append(data)
        if self._anchor is not None:
            self._anchor[1].append(data)

    def _close_anchor(self) -> None:
        if self._anchor is not None:
            href, parts = self._anchor
            self.links.append(HtmlLink(href, " ".join("".join(parts).split())))
            self._anchor = None


def _reference_html(html: str) -> tuple[str, tuple[tuple[str, str], ...], int, int]:
    conv = _OldConverter()
    conv.feed(html)
    conv.close()
    conv._close_anchor()
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(conv.out))
    text = re.sub(r" ?\n[ \n]*", "\n", text).strip()
    return text, tuple((x.href, x.text) for x in conv.links), conv.hidden_chars, conv.forms


@settings(max_examples=400, deadline=None)
@given(_HTML)
def test_html_with_open_tag_counts_matches_the_stack_scan(html: str) -> None:
    """Counting open tags instead of scanning the stack, and no line bookkeeping."""
    got = html_to_text(html)
    assert (
        got.text,
        tuple((x.href, x.text) for x in got.links),
        got.hidden_chars,
        got.forms,
    ) == _reference_html(html)


@pytest.mark.parametrize(
    "value",
    ["plain subject", "  folded\r\n\tsubject  ", "tab\tand  spaces", "a =? b", "", "日本語"],
)
def test_header_without_encoded_words_skips_decode_header(value: str) -> None:
    """Without ``=?`` the value is only whitespace-normalised, as decode_header left it."""
    chunks = decode_header(value)
    expected = " ".join(
        "".join(c.decode() if isinstance(c, bytes) else c for c, _ in chunks).split()
    )
    assert decode_header_value(value) == expected


@pytest.mark.parametrize("word", ["=?utf-8?B?a?=", "=?utf-8?b?44GC4?=", "=?utf-8?b?4=?="])
def test_broken_base64_encoded_word_is_read_as_text(word: str) -> None:
    """decode_header raises HeaderParseError on bad base64: the value is kept as it came."""
    assert decode_header_value(f"Re: {word}  x") == f"Re: {word} x"
    mail = read_message(build(b"hello", subject=word, from_=f"{word} <a@example.jp>"))
    assert mail.subject == word
