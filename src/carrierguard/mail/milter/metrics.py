"""Prometheus figures of one milter process, written to a file for node_exporter.

The milter opens no HTTP port of its own (every network endpoint of CarrierGuard needs
an authenticated role): ``MilterMetrics.write`` puts the figures into a file in the
Prometheus text format, atomically, for node_exporter's textfile collector. Counts of
verdicts by action and by reason are what false-blocking measurement (M4) starts from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, write_to_textfile


class MilterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "carrierguard_milter_messages",
            "Messages judged, by action",
            ["action"],
            registry=self.registry,
        )
        self.reasons = Counter(
            "carrierguard_milter_reasons",
            "Reasons given, by code and the action of the message",
            ["code", "action"],
            registry=self.registry,
        )
        self.held_recipients = Counter(
            "carrierguard_milter_held_recipients",
            "Recipients whose copy went to the quarantine (whole message or held for them)",
            registry=self.registry,
        )
        self.errors = Counter(
            "carrierguard_milter_errors",
            "Checks that failed and were answered with the configured safe reply",
            registry=self.registry,
        )
        self.eom_seconds = Histogram(
            "carrierguard_milter_eom_seconds",
            "Time from end of message to our answer",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=self.registry,
        )

    def judged(self, action: str, codes: Iterable[str], held: int) -> None:
        self.messages.labels(action).inc()
        for code in codes:
            self.reasons.labels(code, action).inc()
        if held:
            self.held_recipients.inc(held)

    def write(self, path: Path) -> None:
        """The figures in the text format (written to a temporary file, then renamed)."""
        write_to_textfile(str(path), self.registry)
