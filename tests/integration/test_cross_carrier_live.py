"""The cross-carrier count with real processes: a hub and a carrier each run
``carrierguard serve``; another carrier imports its book and runs ``xc publish`` from the
command line; a screening at the second carrier sees the first carrier's lines.

Everything goes over real HTTP between real uvicorn processes; the hub's registry is
PostgreSQL (it is what a hub would run), the carriers are SQLite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbs import fresh_database
from tests.integration.live import HOLDER, LiveServer, application, book_row, write_book

XC_POLICY_TAIL = '\n[cross_carrier]\ncaps = { voice = 5 }\non_unavailable = "review"\n'


def default_policy() -> str:
    from importlib import resources

    return resources.files("carrierguard.data").joinpath("default_policy.toml").read_text("utf-8")


@pytest.mark.parametrize("hub_engine", ["postgres"])
def test_a_second_carrier_sees_the_first_carriers_lines_through_the_hub(
    tmp_path: Path, hub_engine: str
) -> None:
    with fresh_database(hub_engine, tmp_path / "hub-db") as hub_db:
        hub = LiveServer(hub_db, tmp_path / "hub")
        made = hub.run_plain("xc", "keygen")
        key = json.loads(made.stdout)
        hub.env["CARRIERGUARD_XC_EVALUATOR_SEED"] = key["evaluator_seed"]
        peer_a = hub.create_key_named("carrier_peer", "carrier-a")
        peer_b = hub.create_key_named("carrier_peer", "carrier-b")
        with hub:
            # Carrier A: its book holds HOLDER with 5 active voice lines; it publishes.
            a = LiveServer(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "a")
            book = write_book(
                tmp_path / "book.csv", [book_row(HOLDER, "voice", "active", "2020-01-01")] * 5
            )
            assert a.import_book(book).returncode == 0
            a.env |= {
                "CARRIERGUARD_XC_EVALUATOR": hub.base_url,
                "CARRIERGUARD_XC_API_KEY": peer_a,
                "CARRIERGUARD_XC_PUBLIC_KEY": key["public_key"],
                "CARRIERGUARD_XC_TIMEOUT": "5",
            }
            published = a.cli("xc", "publish")
            assert published.returncode == 0, published.stderr
            assert json.loads(published.stdout.strip().splitlines()[-1])["published"] == 1

            # Carrier B: a cross-carrier cap of 5 voice lines, and the hub configured.
            b = LiveServer(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "b")
            policy = tmp_path / "b-policy.toml"
            policy.write_text(default_policy() + XC_POLICY_TAIL, encoding="utf-8")
            b.env |= {
                "CARRIERGUARD_POLICY": str(policy),
                "CARRIERGUARD_XC_EVALUATOR": hub.base_url,
                "CARRIERGUARD_XC_API_KEY": peer_b,
                "CARRIERGUARD_XC_PUBLIC_KEY": key["public_key"],
                "CARRIERGUARD_XC_TIMEOUT": "5",
            }
            clerk = b.create_key("clerk")
            with b, b.client(clerk) as client:
                other = HOLDER | {"name": "髙橋　一郎", "address": "東京都千代田区千代田一丁目1番"}
                answer = client.post("/v1/applications", json=application(other, "voice"))
                assert answer.status_code == 201, answer.text
                body = answer.json()
                assert body["decision"] == "review", body
                codes = [r["code"] for r in body["reasons"]]
                assert "CROSS_CARRIER_CAP_EXCEEDED" in codes, codes
                text = next(r for r in body["reasons"] if r["code"] == "CROSS_CARRIER_CAP_EXCEEDED")
                assert "他社5" in text["message_ja"], text
                # Someone the hub has never heard of is approved.
                stranger = HOLDER | {"name": "山田 花子", "birth_date": "1990-01-01"}
                fresh = client.post("/v1/applications", json=application(stranger, "voice"))
                assert fresh.json()["decision"] == "approve", fresh.text
        # With the hub stopped, B's policy (on_unavailable = review) holds the application.
        with b, b.client(clerk) as client:
            late = HOLDER | {"name": "佐藤 三郎"}
            answer = client.post("/v1/applications", json=application(late, "voice")).json()
            assert answer["decision"] == "review"
            assert [r["code"] for r in answer["reasons"]] == ["CROSS_CARRIER_UNAVAILABLE"]
