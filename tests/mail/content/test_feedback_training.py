"""Quarantine feedback becomes training data for the next model (and only training data)."""

from __future__ import annotations

from pathlib import Path

from carrierguard.mail.content.brands import default_catalogue
from carrierguard.mail.content.corpus import load_feedback
from carrierguard.mail.content.train import feedback_examples
from carrierguard.mail.quarantine import QuarantineStore
from carrierguard.mail.release import record_feedback
from tests.mail.conftest import message


def test_labels_written_by_feedback_are_read_back_for_training(tmp_path: Path) -> None:
    store = QuarantineStore(tmp_path / "q")
    ids = {}
    for label, sender in (("phishing", "a@phish.example"), ("not_phishing", "b@shop.example")):
        entry = store.put(
            message(sender, "本文\r\n", "Date: Tue, 03 Nov 2026 10:00:00 +0900"),
            mail_from=sender,
            recipients=("u@example.net",),
            header_from=sender.split("@")[1],
            reasons=("DMARC_FAIL",),
        )
        record_feedback(store, entry.id, label, actor="test", feedback_dir=tmp_path / "fb")
        ids[entry.id] = label
    (tmp_path / "fb" / "phishing" / "broken.txt").write_text("not a message")  # ignored
    items = load_feedback(tmp_path / "fb")
    assert sorted((i.path.stem, i.label) for i in items) == sorted(
        (i, "phishing" if lab == "phishing" else "ham") for i, lab in ids.items()
    )
    assert {i.date.year for i in items} == {2026}
    examples = feedback_examples(tmp_path / "fb", default_catalogue())
    assert {(e.corpus, e.split) for e in examples} == {("feedback", "train")}
    assert sorted(e.label for e in examples) == ["ham", "phishing"]
    assert load_feedback(tmp_path / "nothing-here") == []
