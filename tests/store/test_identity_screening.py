"""Screening finds the applicant's holder however the name, date and address are written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.identity import parse_date
from carrierguard.store.importer import BookImporter
from tests.integration.live import write_book
from tests.store.test_screening_store import service_for


def person(name: str, birth: str, address: str, kana: str | None = None) -> HolderIdentity:
    return HolderIdentity(
        kind=HolderKind.INDIVIDUAL,
        name=name,
        birth_date=parse_date(birth),
        address=address,
        name_kana=kana,
    )


def apply(holder: HolderIdentity, n: int = 1, on: date = date(2026, 11, 28)) -> Application:
    return Application(
        channel=Channel.STORE,
        holder=holder,
        applied_on=on,
        lines=tuple(LineRequest(SimType.VOICE) for _ in range(n)),
        kyc_method="ic_chip_mynumber",
    )


def test_variant_kanji_and_wareki_date_find_the_holder_with_five_lines(db_url: str) -> None:
    """髙橋 一郎 / 昭和60年4月1日 holds 5 lines; 高橋 一郎 / 1985-04-01 is not approved a sixth."""
    svc = service_for(db_url)
    registered = person("髙橋 一郎", "昭和60年4月1日", "東京都千代田区千代田1-1")
    for month in range(1, 11, 2):  # five single lines, two months apart: all approved
        first = svc.screen(apply(registered, on=date(2024, month, 1))).record
        assert first.outcome is Outcome.APPROVE
    again = person("高橋 一郎", "1985-04-01", "東京都千代田区千代田一丁目1番")
    second = svc.screen(apply(again)).record
    assert second.holder_id == first.holder_id
    assert second.outcome is not Outcome.APPROVE


def test_kana_only_legacy_record_is_found_through_its_reading(db_url: str) -> None:
    """A legacy record in katakana only is matched by the applicant's reading."""
    svc = service_for(db_url)
    legacy = person("タカハシ イチロウ", "1985-04-01", "東京都千代田区千代田1-1")
    first = svc.screen(apply(legacy, 5, on=date(2024, 1, 1))).record
    modern = person("高橋 一郎", "1985-04-01", "東京都千代田区千代田1-1", kana="タカハシ イチロウ")
    second = svc.screen(apply(modern)).record
    assert second.outcome is not Outcome.APPROVE
    codes = {r.code for r in second.reasons}
    assert second.holder_id == first.holder_id or "IDENTITY_AMBIGUOUS" in codes


def test_a_namesake_elsewhere_is_a_different_person(db_url: str) -> None:
    """Same name, different birth date: a new holder, approved."""
    svc = service_for(db_url)
    a = svc.screen(
        apply(person("佐藤 花子", "1990-01-01", "大阪府大阪市北区梅田1-1"), 5, on=date(2024, 1, 1))
    ).record
    b = svc.screen(apply(person("佐藤 花子", "1990-01-02", "福岡県福岡市博多区博多駅前2-2"))).record
    assert b.holder_id != a.holder_id
    assert b.outcome is Outcome.APPROVE


def test_imported_legacy_holder_is_a_candidate_for_a_new_spelling(
    db_url: str, tmp_path: Path
) -> None:
    """A katakana-only holder from the imported book is found when the applicant writes kanji."""
    svc = service_for(db_url)
    rows = [
        [
            "individual",
            "タカハシ イチロウ",
            "",
            "1985-04-01",
            "東京都千代田区千代田1-1",
            "",
            "",
            "voice",
            "active",
            "2019-01-01",
        ]
    ] * 5
    report = BookImporter(svc.registry.engine, svc.protector).import_file(
        write_book(tmp_path / "book.csv", rows)
    )
    assert report.imported == 5
    modern = person("高橋 一郎", "1985-04-01", "東京都千代田区千代田1-1", kana="タカハシ イチロウ")
    answer = svc.screen(apply(modern)).record
    assert answer.outcome is not Outcome.APPROVE
    codes = {r.code for r in answer.reasons}
    assert answer.holder_id == 1 or "IDENTITY_AMBIGUOUS" in codes
