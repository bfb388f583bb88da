"""``make demo`` runs ``carrierguard demo``: screening decisions of every kind, then mail verdicts."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from carrierguard.cli.main import app


def test_demo_shows_each_decision_and_strengths_that_differ(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", db, "--reset"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    counts = re.search(r"approve (\d+) ・ 審査 review (\d+) ・ 拒否 refuse (\d+)", result.output)
    assert counts and all(int(n) > 0 for n in counts.groups()), result.output[-2000:]
    rows = {
        m.group(1): m.group(2).split()
        for m in re.finditer(r"│ (\S+\.eml)\s+│\s+[\d.]+ │ (\w+ +│ \w+ +│ \w+)", result.output)
    }
    verdicts = {name: [v for v in cells if v != "│"] for name, cells in rows.items()}
    assert verdicts["01-card-phishing.eml"] == ["reject"] * 3
    assert verdicts["04-team-meeting.eml"] == ["deliver"] * 3
    # A mild lure: only the strong filter holds it.
    assert verdicts["05-account-check.eml"] == ["deliver", "deliver", "quarantine"]
    # Reasons are shown for what some strength holds, not for mail every strength delivers.
    assert re.search(r"03-order-confirmation\.eml .*│ —", result.output)
    assert re.search(r"05-account-check\.eml .*│ 内容の判定: phishing", result.output)
    # The cross-carrier count: 5 lines at another carrier send a 6th here to review, and
    # the hub's table shows a token and counts, never the name.
    xc = result.output[result.output.index("他社回線数 / Cross-carrier") :]
    assert "CROSS_CARRIER_CAP_EXCEEDED" in xc and "他社5（1社）" in xc
    hub_table = xc[xc.index("What the hub holds") : xc.index("With lines elsewhere")]
    assert "other-carrier" in hub_table and "渡" not in hub_table
    again = CliRunner().invoke(app, ["demo", "--db", db, "--reset"], env={"COLUMNS": "200"})
    assert again.exit_code == 0  # --reset makes it repeatable
