"""The importer's fast paths read and validate exactly what the plain ones do.

Blocks of whole records (cut in the reading process without parsing) must give the
rows and line numbers ``csv.reader`` gives for the whole file; ``BookReader`` must
accept and reject rows as ``parse_book_row`` does; the blind index and the sealed
format must not change.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.contracts.book import BOOK_HEADER, BookReader, BookRow, parse_book_row
from carrierguard.contracts.service import identity_string
from carrierguard.crypto import DataProtector
from carrierguard.errors import InvalidInput
from carrierguard.store import importer

HEADER = ",".join(BOOK_HEADER)

# Pieces that stress record boundaries: quotes opening fields or standing inside them,
# doubled quotes, line breaks of every kind, commas, blank lines and non-ASCII text.
PIECES = st.sampled_from(
    ['"', '""', ",", "\n", "\r\n", "\r", "a", "佐藤", " ", '"x\ny"', "\u3000", 'b"c', ",,"]
)
BODIES = st.lists(PIECES, max_size=60).map("".join)


def blocks_rows(text: str, rows: int, read_bytes: int) -> list[tuple[int, list[str]]]:
    old_read = importer.READ_BYTES
    importer.READ_BYTES = read_bytes
    try:
        out = []
        for data, first_line, _ in importer.read_blocks(io.BytesIO(text.encode()), rows):
            out.extend(importer.block_cells(data, first_line))
        return out
    finally:
        importer.READ_BYTES = old_read


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    return list(importer.read_cells(io.StringIO(text, newline="")))


@settings(max_examples=400, deadline=None)
@given(
    body=BODIES,
    line_end=st.sampled_from(["\n", "\r\n"]),
    rows=st.integers(1, 4),
    read_bytes=st.sampled_from([1, 3, 16, 1 << 20]),
)
def test_blocks_give_the_rows_and_line_numbers_of_csv_reader(
    body: str, line_end: str, rows: int, read_bytes: int
) -> None:
    text = HEADER + line_end + body
    assert blocks_rows(text, rows, read_bytes) == csv_rows(text)


def test_blocks_of_a_plain_book_split_where_csv_reader_does() -> None:
    book = "\r\n".join([HEADER, *(f"individual,佐藤 {i},,1990-01-0{i % 9 + 1}" for i in range(50))])
    got = blocks_rows(book + "\r\n", 7, 64)
    assert got == csv_rows(book + "\r\n")
    assert [line for line, _ in got] == list(range(2, 52))


def test_a_quoted_field_over_many_lines_stays_in_one_block() -> None:
    text = HEADER + "\n" + 'a,"' + "\n" * 30 + '",b\n' + "c,d\n"
    blocks = list(importer.read_blocks(io.BytesIO(text.encode()), 2))
    assert blocks[0][0].startswith(b'a,"\n')
    assert b'",b\n' in blocks[0][0]  # the record is not cut inside its quotes
    assert (
        blocks_rows(text, 2, 8) == csv_rows(text) == [(32, ["a", "\n" * 30, "b"]), (33, ["c", "d"])]
    )


def test_record_end_follows_the_csv_quote_rules() -> None:
    assert importer.record_end(b'a,"x\ny"\nb\n', 0, 6) == -1  # the first line feed is quoted
    assert importer.record_end(b'a,"x\ny"\nb\n', 0, 10) == 10
    assert importer.record_end(b'ab"c\nd\n', 0, 7) == 7  # a quote inside a field is a character
    assert importer.record_end(b'"a""\nb"\n', 0, 8) == 8  # "" inside quotes is a quote


def test_the_header_is_checked_and_the_empty_file_refused() -> None:
    for text, message in [("", "empty"), ("name,kind\n", "header")]:
        try:
            list(importer.read_blocks(io.BytesIO(text.encode()), 10))
        except importer.InvalidInput as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")
    bom = ("\ufeff" + HEADER + "\n" + "x\n").encode()
    assert [b[1] for b in importer.read_blocks(io.BytesIO(bom), 10)] == [2]


CELL = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "individual",
            "corporate",
            " individual ",
            "佐藤 一郎",
            "サトウ イチロウ",
            "1985-04-01",
            "19850401",
            "1985-02-30",
            "東京都千代田区千代田1-1",
            "100-0001",
            "1000001",
            "100-00011",
            "1234567890123",
            "123",
            "voice",
            "data_sms",
            "data",
            " data ",
            "fax",
            "active",
            "terminated",
            "reserved",
            "\u3000active",
            "2024-02-29",
            "2023-02-29",
        ]
    ),
    st.text(max_size=6),
)


def as_tuple(row: object) -> object:
    if isinstance(row, BookRow):
        return (row.holder, row.sim_type.value, row.state.value, row.activated_on)
    return row


def plain_read(reader: BookReader, cells: list[str], line_no: int) -> object:
    """``read_line`` where the cells make a plain CSV line, else ``read``."""
    line = ",".join(cells)
    if any(c in line for c in '"\r\n') or line.count(",") != len(cells) - 1:
        return reader.read(cells, line_no)
    return reader.read_line(line.encode(), line_no)


def assert_readers_agree_with_parse_book_row(rows: list[list[str]]) -> None:
    """``BookReader.read`` and its line path accept and reject each row as the oracle does."""
    by_cells = BookReader()
    by_line = BookReader()
    for line_no, cells in enumerate(rows, 2):
        expected = as_tuple(parse_book_row(cells, line_no))
        for reader, got in (
            (by_cells, by_cells.read(cells, line_no)),
            (by_line, plain_read(by_line, cells, line_no)),
        ):
            if isinstance(got, tuple):
                number, *line = got
                assert (reader.holders[number], *line) == expected
            else:
                assert got == expected


@settings(max_examples=600, deadline=None)
@given(rows=st.lists(st.lists(CELL, min_size=8, max_size=11), min_size=1, max_size=8))
def test_book_reader_accepts_and_rejects_as_parse_book_row(rows: list[list[str]]) -> None:
    assert_readers_agree_with_parse_book_row(rows)


COLUMNS = [
    ["individual", "corporate", " individual", "company"],
    ["佐藤 一郎", "佐藤　一郎", " ", "ｻﾄｳ"],
    ["", "サトウ イチロウ", "さとう"],
    ["1985-04-01", "19850401", "", "1985-4-1"],
    ["", "東京都千代田区千代田1-1"],
    ["", "100-0001", "1000001", "100-001"],
    ["", "1234567890123", "12345"],
    ["voice", "data", " data_sms ", "fax"],
    ["active", "number_kept", "reserved", "active\u3000"],
    ["", "2024-02-29", "2023-02-29", " 2020-01-01 "],
]


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(
        st.tuples(*(st.sampled_from(options) for options in COLUMNS)).map(list),
        min_size=1,
        max_size=12,
    )
)
def test_book_reader_on_mostly_valid_rows(rows: list[list[str]]) -> None:
    assert_readers_agree_with_parse_book_row(rows)


def test_book_reader_numbers_each_distinct_holder_once() -> None:
    reader = BookReader()
    row = ["individual", "佐藤 一郎", "", "1985-04-01", "", "", "", "voice", "active", ""]
    same_holder_other_spelling = [*row[:3], "19850401", *row[4:]]
    other = ["individual", "鈴木 花子", "", "1990-01-01", "", "", "", "data", "active", ""]
    got = [
        reader.read(row, 2),
        reader.read_line(",".join(row).encode(), 3),
        reader.read(same_holder_other_spelling, 4),
        reader.read_line(",".join(other).encode(), 5),
    ]
    assert [g[0] for g in got if isinstance(g, tuple)] == [0, 0, 0, 1]
    assert [h.name for h in reader.holders] == ["佐藤 一郎", "鈴木 花子"]


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40))
def test_blind_index_is_hmac_sha256_of_the_index_key(value: str) -> None:
    protector = DataProtector(bytes(range(32)))
    key = protector._index_key
    assert protector.blind_index(value) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_sealed_fields_open_to_the_same_json_as_before() -> None:
    protector = DataProtector(bytes(32))
    fields = {"name": '高橋 "一郎"\\', "name_kana": None, "birth_date": "1985-04-01", "x": ""}
    blob = protector.seal(fields)
    assert blob[:1] == b"\x01"
    assert protector.open(blob) == {"name": '高橋 "一郎"\\', "birth_date": "1985-04-01"}
    nonce, body = blob[1:13], blob[13:]
    plain = protector._aead.decrypt(nonce, body, b"\x01")
    kept = {"name": fields["name"], "birth_date": "1985-04-01"}
    assert plain == json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode()


def test_binary_copy_rows_carry_the_values_postgres_reads() -> None:
    data = (
        HEADER + "\n" + "individual,佐藤 一郎,,1985-04-01,,,,data,suspended,2001-02-03\n"
    ).encode()
    blocks = list(importer.read_blocks(io.BytesIO(data), 10))
    stamp = importer.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=importer.UTC)
    protector = DataProtector(bytes(32))
    chunk, rejected = importer.prepare_block(
        blocks[0][0], blocks[0][1], protector, copy=True, now=stamp
    )
    assert chunk is not None and not rejected
    assert chunk.line_rows and chunk.holder_rows and chunk.block_rows
    micros = (stamp - importer._PG_EPOCH) // importer.timedelta(microseconds=1)
    timestamp = (8).to_bytes(4, "big") + micros.to_bytes(8, "big")
    number = (8).to_bytes(4, "big") + bytes(8)  # holder number 0 until the writer's id

    line = chunk.line_rows.data
    assert len(line) == int.from_bytes(chunk.line_rows.starts[8:16], "little")
    days = (date(2001, 2, 3) - date(2000, 1, 1)).days
    assert line == (
        b"\x00\x06"
        + number
        + b"\x00\x00\x00\x04data\x00\x00\x00\x09suspended"
        + (4).to_bytes(4, "big")
        + days.to_bytes(4, "big")
        + timestamp * 2
    )

    key = chunk.keys[0]
    holder = chunk.holder_rows.data
    assert holder.startswith(b"\x00\x06" + number + b"\x00\x00\x00\x40" + key.encode())
    assert holder.endswith(b"\x00\x00\x00\x02[]" + timestamp)
    kind_at = 2 + 12 + 68
    assert holder[kind_at : kind_at + 14] == b"\x00\x00\x00\x0aindividual"
    pii_len = int.from_bytes(holder[kind_at + 14 : kind_at + 18], "big")
    pii = holder[kind_at + 18 : kind_at + 18 + pii_len]
    assert protector.open(pii)["name"] == "佐藤 一郎"

    blocks_data = chunk.block_rows.data
    assert blocks_data.count(b"\x00\x02\x00\x00\x00\x40") == 1  # no reading: the name key only
    assert blocks_data.endswith(number)


def test_csv_module_is_the_reference() -> None:
    """The reference itself: excel dialect, as the importer's ``read_cells`` uses."""
    assert list(csv.reader(io.StringIO('a,"b\r\nc"\r\n', newline=""))) == [["a", "b\r\nc"]]


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=7))
def test_sealed_json_is_what_json_dumps_writes(fields: dict[str, str]) -> None:
    protector = DataProtector(bytes(32))
    blob = protector.seal(dict(fields))
    plain = protector._aead.decrypt(blob[1:13], blob[13:], b"\x01")
    kept = {k: v for k, v in fields.items() if v}
    assert plain == json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_holder_seen_first_on_a_rejected_row_is_written_from_its_good_rows() -> None:
    good_a = "individual,佐藤 一郎,,1985-04-01,,,,voice,active,"
    bad_a = good_a.replace("voice", "fax")
    good_b = "individual,鈴木 花子,,1990-01-01,,,,data,active,"
    only_bad_c = "individual,田中 誠,,1970-01-01,,,,fax,active,"
    text = "\n".join([HEADER, bad_a, only_bad_c, good_b, good_a, good_b]) + "\n"
    blocks = list(importer.read_blocks(io.BytesIO(text.encode()), 100))
    now = importer.datetime.now(importer.UTC)
    for copy in (True, False):
        chunk, rejected = importer.prepare_block(
            blocks[0][0], blocks[0][1], DataProtector(bytes(32)), copy=copy, now=now
        )
        assert [r.line_no for r in rejected] == [2, 3]
        assert chunk is not None and chunk.line_count == 3
        assert len(chunk.keys) == 2  # 鈴木 and 佐藤; 田中 had no good row
        if not copy:
            assert [n for n, *_ in chunk.lines] == [0, 1, 0]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(*(st.sampled_from(options) for options in COLUMNS)).map(list),
        min_size=1,
        max_size=15,
    )
)
def test_a_prepared_block_holds_the_good_rows_of_parse_book_row(rows: list[list[str]]) -> None:
    """Each accepted line points at the holder whose identity key its row has."""
    protector = DataProtector(bytes(32))
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(BOOK_HEADER), *rows])
    blocks = list(importer.read_blocks(io.BytesIO(buffer.getvalue().encode()), 4))
    parsed = [parse_book_row(cells, line_no) for line_no, cells in enumerate(rows, 2)]
    good = [p for p in parsed if isinstance(p, BookRow)]
    lines: list[tuple[str, str, str, date | None]] = []
    rejected = []
    for data, first_line, _ in blocks:
        chunk, bad = importer.prepare_block(
            data, first_line, protector, copy=False, now=importer.datetime.now(importer.UTC)
        )
        rejected += [r.line_no for r in bad]
        if chunk is not None:
            lines += [(chunk.keys[n], sim, state, act) for n, sim, state, act in chunk.lines]
    assert rejected == [p.line_no for p in parsed if not isinstance(p, BookRow)]
    assert lines == [
        (
            protector.blind_index(identity_string(p.holder)),
            p.sim_type.value,
            p.state.value,
            p.activated_on,
        )
        for p in good
    ]


def test_a_file_with_cr_only_line_ends_is_refused_before_it_is_held_in_memory() -> None:
    """Bare CR line ends would make the whole file one block; it is refused, clearly."""
    row = "individual,佐藤 一郎,,1990-01-01,,,,voice,active,"
    book = "\r".join([",".join(BOOK_HEADER), *[row] * 200_000]).encode()
    with pytest.raises(InvalidInput, match="LF or CRLF"):
        list(importer.read_blocks(io.BytesIO(book), 1000))
