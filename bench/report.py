"""Measurements, their summary (min / median / max, ratio), the printed table and the JSON file.

The ratio always reads the same way: **> 1 means the candidate (orthanc_py) is better**. For a
throughput it is candidate / reference; for a latency, CPU time or memory it is reference / candidate.
Both use the medians.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROLES = ("candidate", "reference")


@dataclass
class Measurement:
    """Samples of one metric for both servers, taken interleaved."""

    suite: str
    name: str
    description: str
    unit: str
    higher_is_better: bool
    samples: dict[str, list[float]] = field(default_factory=lambda: {role: [] for role in ROLES})
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, role: str, value: float) -> None:
        self.samples[role].append(value)

    def summary(self, role: str) -> dict[str, float] | None:
        values = self.samples[role]
        if not values:
            return None
        return {
            "n": len(values),
            "min": min(values),
            "median": statistics.median(values),
            "max": max(values),
        }

    def ratio(self) -> float | None:
        """> 1 means the candidate is better (see the module docstring)."""
        candidate, reference = self.summary("candidate"), self.summary("reference")
        if candidate is None or reference is None:
            return None
        numerator, denominator = (
            (candidate["median"], reference["median"])
            if self.higher_is_better
            else (reference["median"], candidate["median"])
        )
        return numerator / denominator if denominator else None

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "samples": self.samples,
            "summary": {role: self.summary(role) for role in ROLES},
            "ratio_of_medians": self.ratio(),
            "details": self.details,
            "warnings": self.warnings,
        }


def format_value(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _cell(summary: dict[str, float] | None, higher_is_better: bool) -> str:
    if summary is None:
        return "-"
    best = summary["max"] if higher_is_better else summary["min"]
    return f"{format_value(best)} / {format_value(summary['median'])}"


def render_table(measurements: list[Measurement], labels: dict[str, str]) -> str:
    """The readable table: best / median for each server and the ratio of medians."""
    candidate, reference = labels["candidate"], labels["reference"]
    header = (
        f"ratio > 1 means {candidate} is better: throughput {candidate}/{reference}; "
        f"latency, CPU and memory {reference}/{candidate} (ratio of medians).\n"
        "Each cell is best / median: best is the max for a throughput (inst/s), the min otherwise."
    )
    rows = [("measurement", "unit", "n", candidate, reference, "ratio")]
    for m in measurements:
        ratio = m.ratio()
        count = max(len(values) for values in m.samples.values())
        rows.append(
            (
                m.name,
                m.unit,
                str(count),
                _cell(m.summary("candidate"), m.higher_is_better),
                _cell(m.summary("reference"), m.higher_is_better),
                "-" if ratio is None else f"{ratio:.2f}",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [header, ""]
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    warnings = [f"  {m.name}: {warning}" for m in measurements for warning in m.warnings]
    if warnings:
        lines += ["", "warnings:", *warnings]
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=RESULTS_DIR.parent, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "git_commit": commit or None,
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{stamp}-{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
