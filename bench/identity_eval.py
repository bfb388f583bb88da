"""Evaluate identity matching on generated labelled pairs, beside Splink (DuckDB).

    .venv/bin/python bench/identity_eval.py                 # held-out seed, 20,000 pairs
    .venv/bin/python bench/identity_eval.py --seed 7 --pairs 5000 --no-splink
    .venv/bin/python bench/identity_eval.py --dump pairs.jsonl   # input for `identity compare`

Prints, for carrierguard.identity and for Splink on the same pairs: precision of
"same", share of true pairs answered same-or-uncertain, share uncertain, recall of
"same" and F1 of "same"; then a breakdown by kind of pair. Splink is given the
fields after our normalisation (Splink knows no Japanese), trained without labels
(u by random sampling, m by EM), and read as same >= 0.99 > uncertain >= 0.5.

The seed used while the matcher was written was 7; the held-out seed below was
first run only to report.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carrierguard.identity import (
    NormalizedPerson,
    Outcome,
    Person,
    match_normalized,
    normalize_person,
)
from identity_gen import LabelledPair, generate

DEV_SEED = 7
HELD_OUT_SEED = 20261128
SPLINK_SAME = 0.99
SPLINK_UNCERTAIN = 0.5


@dataclass(frozen=True, slots=True)
class Scores:
    """Figures of one matcher over one set of pairs."""

    name: str
    precision_same: float
    same_or_uncertain: float
    uncertain_share: float
    recall_same: float
    f1_same: float
    seconds: float

    def row(self) -> str:
        return (
            f"{self.name:<28} {self.precision_same:>9.5f} {self.same_or_uncertain:>9.5f} "
            f"{self.uncertain_share:>9.4f} {self.recall_same:>9.4f} {self.f1_same:>9.4f} "
            f"{self.seconds:>8.1f}"
        )


HEADER = (
    f"{'matcher':<28} {'P(same)':>9} {'true s|u':>9} {'uncert.':>9} {'R(same)':>9} "
    f"{'F1(same)':>9} {'seconds':>8}"
)


def person(record: dict[str, str]) -> Person:
    """A Person from a generated record."""
    return Person(
        name=record["name"],
        birth_date=record["birth_date"],
        address=record["address"],
        name_kana=record.get("name_kana"),
        postal_code=record.get("postal_code"),
    )


def score(name: str, pairs: Sequence[LabelledPair], outcomes: Sequence[str], secs: float) -> Scores:
    """Precision-first figures from labels and outcomes."""
    said_same = [p.same for p, o in zip(pairs, outcomes, strict=True) if o == "same"]
    true_total = sum(p.same for p in pairs)
    true_same = sum(said_same)
    true_kept = sum(p.same and o != "different" for p, o in zip(pairs, outcomes, strict=True))
    precision = true_same / len(said_same) if said_same else 1.0
    recall = true_same / true_total if true_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(
        name=name,
        precision_same=precision,
        same_or_uncertain=true_kept / true_total if true_total else 0.0,
        uncertain_share=sum(o == "uncertain" for o in outcomes) / len(outcomes),
        recall_same=recall,
        f1_same=f1,
        seconds=secs,
    )


def run_ours(pairs: Sequence[LabelledPair]) -> tuple[list[str], float]:
    """carrierguard.identity.match over every pair (normalising each record)."""
    start = time.perf_counter()
    outcomes = [
        match_normalized(normalize_person(person(p.a)), normalize_person(person(p.b))).outcome.value
        for p in pairs
    ]
    return outcomes, time.perf_counter() - start


def _splink_row(norm: NormalizedPerson, pair_id: str, uid: str) -> dict[str, object]:
    address = norm.address
    unit = f"{address.building}{address.room}" or None
    return {
        "unique_id": uid,
        "pair_id": pair_id,
        "name": norm.name.full,
        "reading": norm.name.phonetic or None,
        "dob": norm.birth_date.isoformat(),
        "prefecture": address.prefecture,
        "locality": address.locality,
        "block": "-".join(str(n) for n in address.block) or None,
        "unit": unit,
    }


def _splink_settings(block_on: Any, cl: Any, prior: float | None) -> Any:
    from splink import SettingsCreator

    extra = {} if prior is None else {"probability_two_random_records_match": prior}
    return SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.LevenshteinAtThresholds("name", [1, 2]),
            cl.ExactMatch("reading"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("prefecture"),
            cl.LevenshteinAtThresholds("locality", [2]),
            cl.ExactMatch("block"),
            cl.ExactMatch("unit"),
        ],
        blocking_rules_to_generate_predictions=[block_on("pair_id")],
        retain_intermediate_calculation_columns=False,
        **extra,
    )


def _splink_frames(db_api: Any, pairs: Sequence[LabelledPair], tag: str) -> list[Any]:
    rows_a = [_splink_row(normalize_person(person(p.a)), p.pair_id, f"a{p.pair_id}") for p in pairs]
    rows_b = [_splink_row(normalize_person(person(p.b)), p.pair_id, f"b{p.pair_id}") for p in pairs]
    return [
        db_api.register({k: [row[k] for row in rows] for k in rows[0]}, dataset_display_name=name)
        for name, rows in ((f"records_a{tag}", rows_a), (f"records_b{tag}", rows_b))
    ]


def _floor_untrained_m(model: dict[str, Any], true_pairs: int) -> dict[str, Any]:
    """Give levels no true pair reached an m of 0.5/true_pairs instead of Splink's default.

    Without this, "birth dates ten years apart" keeps Splink's neutral default m and
    namesakes of another age score as the same person.
    """
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level") and level.get("m_probability") is None:
                level["m_probability"] = 0.5 / true_pairs
    return model


def run_splink(
    pairs: Sequence[LabelledPair], train: Sequence[LabelledPair] | None
) -> tuple[list[str], float]:
    """Splink (DuckDB) on our normalised fields, read as same >= .99 > uncertain >= .5.

    Without ``train``: unsupervised, as Splink is usually run (prior from a
    deterministic rule, u by random sampling, m by EM). With ``train``: m from the
    labels of another seed's pairs and the prior set to that seed's share of true
    pairs, which is Splink's best case for scoring a list of candidate pairs.
    """
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, block_on

    start = time.perf_counter()
    db_api = DuckDBAPI()
    if train is None:
        linker = Linker(
            _splink_frames(db_api, pairs, ""),
            _splink_settings(block_on, cl, None),
            log_level=logging.ERROR,
        )
        linker.training.estimate_probability_two_random_records_match(
            [block_on("name", "dob")], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("locality", "block")
        )
        model = _floor_untrained_m(linker.misc.save_model_to_json(), len(pairs))
        linker = Linker(_splink_frames(db_api, pairs, "_em"), model, log_level=logging.ERROR)
    else:
        prior = sum(p.same for p in train) / len(train)
        trainer = Linker(
            _splink_frames(db_api, train, "_train"),
            _splink_settings(block_on, cl, prior),
            log_level=logging.ERROR,
        )
        trainer.training.estimate_u_using_random_sampling(max_pairs=2e6)
        labels = db_api.register(
            {
                "source_dataset_l": ["records_a_train"] * sum(p.same for p in train),
                "unique_id_l": [f"a{p.pair_id}" for p in train if p.same],
                "source_dataset_r": ["records_b_train"] * sum(p.same for p in train),
                "unique_id_r": [f"b{p.pair_id}" for p in train if p.same],
            },
            dataset_display_name="labels_train",
        )
        trainer.training.estimate_m_from_pairwise_labels(labels)
        model = _floor_untrained_m(trainer.misc.save_model_to_json(), sum(p.same for p in train))
        linker = Linker(_splink_frames(db_api, pairs, ""), model, log_level=logging.ERROR)
    predictions = linker.inference.predict(threshold_match_probability=0.0).as_record_list()
    probability = {str(r["pair_id_l"]): float(r["match_probability"]) for r in predictions}
    outcomes = []
    for p in pairs:
        prob = probability.get(p.pair_id, 0.0)
        outcomes.append(
            "same"
            if prob >= SPLINK_SAME
            else "uncertain"
            if prob >= SPLINK_UNCERTAIN
            else "different"
        )
    return outcomes, time.perf_counter() - start


def breakdown(pairs: Sequence[LabelledPair], outcomes: Sequence[str]) -> list[str]:
    """One line per kind of pair: how many were answered same, uncertain, different."""
    counts: dict[str, Counter[str]] = {}
    for p, o in zip(pairs, outcomes, strict=True):
        counts.setdefault(p.kind, Counter())[o] += 1
    lines = [f"{'kind':<26} {'n':>6} {'same':>6} {'uncert.':>8} {'diff.':>6}"]
    for kind in sorted(counts, key=lambda k: (not k.startswith("true"), k)):
        c = counts[kind]
        total = sum(c.values())
        lines.append(
            f"{kind:<26} {total:>6} {c[Outcome.SAME]:>6} {c[Outcome.UNCERTAIN]:>8} "
            f"{c[Outcome.DIFFERENT]:>6}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--train-seed", type=int, default=DEV_SEED, help="labels for Splink's m")
    parser.add_argument("--dump", type=Path, help="write the pairs as `identity compare` input")
    parser.add_argument("--show-errors", type=int, default=0, help="print N wrong answers")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    pairs = generate(args.seed, args.pairs)
    print(
        f"seed {args.seed}: {len(pairs)} pairs, {sum(p.same for p in pairs)} true, "
        f"generated in {time.perf_counter() - start:.1f} s"
    )
    if args.dump:
        with args.dump.open("w", encoding="utf-8") as out:
            for p in pairs:
                out.write(json.dumps({"id": p.pair_id, "a": p.a, "b": p.b}, ensure_ascii=False))
                out.write("\n")

    ours, secs = run_ours(pairs)
    results = [score("carrierguard.identity", pairs, ours, secs)]
    splink_runs: list[tuple[str, list[str]]] = []
    if not args.no_splink:
        unsupervised, secs = run_splink(pairs, None)
        results.append(score("splink, EM (unsupervised)", pairs, unsupervised, secs))
        train = generate(args.train_seed, args.pairs)
        supervised, secs = run_splink(pairs, train)
        results.append(score(f"splink, m from seed {args.train_seed}", pairs, supervised, secs))
        splink_runs = [("splink, EM", unsupervised), ("splink, labelled m", supervised)]
    print()
    print(HEADER)
    for r in results:
        print(r.row())
    print()
    print("carrierguard.identity by kind of pair:")
    print("\n".join(breakdown(pairs, ours)))
    for label, outcomes in splink_runs:
        print(f"\n{label} by kind of pair:")
        print("\n".join(breakdown(pairs, outcomes)))
    wrong = [
        (p, o)
        for p, o in zip(pairs, ours, strict=True)
        if (o == "same" and not p.same) or (o == "different" and p.same)
    ]
    for p, o in wrong[: args.show_errors]:
        print(f"\n{p.kind} answered {o}:\n  a={p.a}\n  b={p.b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
