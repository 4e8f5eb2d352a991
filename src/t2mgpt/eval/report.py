"""Markdown tables of `t2mgpt evaluate --json-out` results (model cards, READMEs)."""
from __future__ import annotations

import json
from pathlib import Path

from t2mgpt.errors import InputError
from t2mgpt.eval.result import LABELS, METRICS, no_negative_zero

ROW_NAMES = {"generation": "Generated", "reconstruction": "VQ-VAE reconstruction",
             "baseline:shuffled": "Real motion, shuffled text", "baseline:train-motions": "Random training motion"}


def read_results(paths) -> list[dict]:
    """The JSON files written by `t2mgpt evaluate --json-out`, checked to be evaluation results."""
    out = []
    for p in map(Path, paths):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            d["summary"]["model"], d["mode"]
        except FileNotFoundError:
            raise InputError(f"evaluation result {p} not found: write it with `t2mgpt evaluate --json-out {p}`")
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{p} is not a `t2mgpt evaluate --json-out` result ({e})") from e
        out.append(d)
    return out


def _cell(v: dict | None) -> str:
    if v is None:
        return "-"
    return f"{no_negative_zero(v['mean']):.3f} ± {v['ci95']:.3f}"


def markdown_table(results: list[dict], labels: list[str] | None = None) -> str:
    """One row for the real motions (from the first result) and one per result.

    All results should come from the same split, evaluator and batch size; a footnote says
    which, and the differences are flagged.
    """
    if not results:
        raise InputError("no evaluation results to tabulate")
    labels = labels or [ROW_NAMES.get(r["mode"], r["mode"]) for r in results]
    cols = [k for k in METRICS if any(k in r["summary"]["model"] for r in results)]
    gt = results[0]["summary"]["ground_truth"]
    lines = ["| | " + " | ".join(LABELS[k] for k in cols) + " |", "|---" * (len(cols) + 1) + "|",
             "| Real motion | " + " | ".join(_cell(gt.get(k)) for k in cols) + " |"]
    for label, r in zip(labels, results):
        lines.append(f"| {label} | " + " | ".join(_cell(r["summary"]["model"].get(k)) for k in cols) + " |")
    info = results[0].get("info", {})
    keys = ("split", "entries", "batch_size", "evaluator_path")
    mixed = [k for k in keys if len({str(r.get("info", {}).get(k)) for r in results}) > 1]
    reps = sorted({r["replications"] for r in results})
    lines += ["", f"Mean ± 95% confidence interval over {'/'.join(map(str, reps))} replications of the "
              f"{info.get('split', '?')} split ({info.get('entries', '?')} caption-motion entries, R-precision in "
              f"batches of {info.get('batch_size', 32)}, chance top-1 = {1 / info.get('batch_size', 32):.3f}). "
              f"Lower is better for FID and MM-Dist."]
    if mixed:
        lines[-1] += f" Warning: the rows differ in {', '.join(mixed)}; they are not comparable."
    return "\n".join(lines)
