"""The result of an evaluation run: per-replication metric values, their summary (mean and 95%
confidence half-width) and the paper's table layout."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from t2mgpt import metrics as M

METRICS = ("fid", "top1", "top2", "top3", "mm_dist", "diversity", "multimodality")
LABELS = {"fid": "FID", "top1": "Top-1", "top2": "Top-2", "top3": "Top-3", "mm_dist": "MM-Dist",
          "diversity": "Diversity", "multimodality": "MModality"}


@dataclass
class EvaluationResult:
    """Per-replication values of every metric, for the model and for the real motions."""

    mode: str  # "generation", "reconstruction" or "baseline:<kind>"
    model: dict[str, list[float]] = field(default_factory=dict)
    ground_truth: dict[str, list[float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def replications(self) -> int:
        return len(self.model.get("fid", []))

    def append(self, model: dict, gt: dict) -> None:
        """Add one replication's metrics of the model and of the real motions."""
        for k, v in model.items():
            self.model.setdefault(k, []).append(float(v))
        for k, v in gt.items():
            self.ground_truth.setdefault(k, []).append(float(v))

    @staticmethod
    def _summary(values: dict[str, list[float]]) -> dict[str, dict[str, float]]:
        out = {}
        for k in METRICS:
            if values.get(k):
                mean, ci = M.mean_and_confidence_interval(values[k])
                out[k] = {"mean": mean, "ci95": ci}
        return out

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{'model': {metric: {'mean', 'ci95'}}, 'ground_truth': {...}}."""
        return {"model": self._summary(self.model), "ground_truth": self._summary(self.ground_truth)}

    def to_json(self) -> dict:
        return {"mode": self.mode, "replications": self.replications, "summary": self.summary(),
                "per_replication": {"model": self.model, "ground_truth": self.ground_truth}, "info": self.info}

    def write_json(self, path) -> None:
        from t2mgpt.utils.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def table(self) -> str:
        """The paper's table layout: one row per source, 'mean ± ci95' per metric."""
        s = self.summary()
        cols = [k for k in METRICS if k in s["model"] or k in s["ground_truth"]]
        name = {"reconstruction": "Reconstruction", "generation": "Generated",
                "baseline:shuffled": "Shuffled text", "baseline:train-motions": "Train motion"}.get(self.mode, self.mode)
        rows = [("Real motion", s["ground_truth"]), (name, s["model"])]
        width = 17
        head = f"{'':<14}" + "".join(f"{LABELS[k]:>{width}}" for k in cols)
        lines = [head]
        for label, vals in rows:
            cells = [f"{no_negative_zero(vals[k]['mean']):.3f} +- {vals[k]['ci95']:.3f}" if k in vals else "-"
                     for k in cols]
            lines.append(f"{label:<14}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append(f"({self.replications} replications; +- is the 95% confidence interval; lower is better for "
                     f"FID and MM-Dist; R-precision in batches of {self.info.get('batch_size', 32)})")
        return "\n".join(lines)


def no_negative_zero(x: float) -> float:
    """0.0 for values that print as -0.000 (FID of identical sets: sqrtm leaves -1e-5)."""
    return 0.0 if abs(x) < 5e-4 else x

