"""Array parameters written as PostgreSQL array literals read back exactly as they were."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.store.registry import pg_int_array, pg_text_array
from tests.conftest import need
from tests.dbs import PG_ADMIN, pg_available

AWKWARD = [
    "dob:1985-04-01|nm:高橋一郎",
    "",
    "NULL",
    "null",
    " leading and trailing ",
    "a,b",
    "{braces}",
    'say "hi"',
    "back\\slash",
    "\\",
    '\\"',
    "tab\there",
    "new\nline",
    "𠮷野家",
]


def test_text_literals_quote_every_element() -> None:
    assert pg_text_array([]) == "{}"
    assert pg_text_array(["a"]) == '{"a"}'
    assert pg_text_array(['x"y', "p\\q", "a,b"]) == '{"x\\"y","p\\\\q","a,b"}'
    assert pg_text_array(iter(["voice", "data"])) == '{"voice","data"}'


def test_int_literals() -> None:
    assert pg_int_array([]) == "{}"
    assert pg_int_array([1, 2**62, 7]) == "{1,4611686018427387904,7}"
    assert pg_int_array(iter([3])) == "{3}"


@pytest.fixture(scope="module")
def pg() -> psycopg.Connection[tuple[object, ...]]:
    need(pg_available(), f"PostgreSQL is not reachable at {PG_ADMIN}")
    conn = psycopg.connect(PG_ADMIN, autocommit=True)
    yield conn
    conn.close()


@pytest.mark.postgres
def test_awkward_text_reads_back_in_order(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    got = pg.execute("SELECT %s::text[]", (pg_text_array(AWKWARD),)).fetchone()
    assert got == (AWKWARD,)
    rows = pg.execute(
        "SELECT b FROM unnest(%s::text[]) WITH ORDINALITY AS t(b, n) ORDER BY n",
        (pg_text_array(AWKWARD),),
    ).fetchall()
    assert [r[0] for r in rows] == AWKWARD
    assert pg.execute("SELECT %s::text[]", (pg_text_array([]),)).fetchone() == ([],)


@pytest.mark.postgres
def test_ints_and_texts_unnest_together(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    rows = pg.execute(
        "SELECT i, s FROM unnest(%s::bigint[], %s::text[]) AS t(i, s)",
        (pg_int_array([9, 2**40]), pg_text_array(["voice", "data_sms"])),
    ).fetchall()
    assert rows == [(9, "voice"), (2**40, "data_sms")]


@pytest.mark.postgres
@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))))
def test_any_text_reads_back(pg: psycopg.Connection[tuple[object, ...]], values: list[str]) -> None:
    assert pg.execute("SELECT %s::text[]", (pg_text_array(values),)).fetchone() == (values,)
