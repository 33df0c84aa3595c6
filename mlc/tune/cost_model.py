"""The learned cost model: gradient-boosted trees (LightGBM) on TIR features.

The model predicts a candidate's *normalised throughput*: the workload's
best measured time divided by the candidate's time (1 for the best, near 0
for a slow one, 0 for a failure), from :func:`~mlc.tune.features.extract`
of the scheduled function. It is retrained from all measurements each time
new ones arrive. Until it has :data:`MIN_TRAINING` successful measurements
it predicts nothing (None), and the search samples at random.
"""
from __future__ import annotations

import numpy as np

from ..errors import MLCError

__all__ = ["CostModel", "MIN_TRAINING"]

#: successful measurements needed before the model is trained
MIN_TRAINING = 8


def _lightgbm():
    try:  # deferred: keeps `import mlc.tune` fast, and LightGBM optional
        import lightgbm
    except ImportError:
        raise MLCError("mlc.tune's cost model needs LightGBM: pip install 'mlc[tune]' "
                       "(or tune with cost_model=False for random search)") from None
    return lightgbm


class CostModel:
    """LightGBM regression of normalised throughput on feature vectors."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._x: list[np.ndarray] = []
        self._y: list[float] = []          # run time in seconds, inf for a failure
        self._group: list[str] = []        # workload of each row
        self._booster = None

    @property
    def trained(self) -> bool:
        return self._booster is not None

    def update(self, features: list[np.ndarray], times: list[float], workloads: list[str]) -> None:
        """Add measurements (``times`` in seconds; ``inf`` for a failed candidate) and retrain."""
        self._x.extend(features)
        self._y.extend(times)
        self._group.extend(workloads)
        ok = [t for t in self._y if np.isfinite(t)]
        if len(ok) < MIN_TRAINING:
            return
        best: dict[str, float] = {}
        for t, g in zip(self._y, self._group):
            if np.isfinite(t):
                best[g] = min(best.get(g, t), t)
        y = np.array([best[g] / t if np.isfinite(t) and g in best else 0.0 for t, g in zip(self._y, self._group)])
        lgb = _lightgbm()
        data = lgb.Dataset(np.stack(self._x), label=y, params={"verbose": -1})
        params = {"objective": "regression", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 2,
                  "min_data_in_bin": 1, "num_threads": 1, "verbose": -1, "seed": self.seed,
                  "deterministic": True, "force_row_wise": True}
        self._booster = lgb.train(params, data, num_boost_round=60)

    def predict(self, features: list[np.ndarray]) -> np.ndarray | None:
        """Predicted normalised throughput of each feature vector (higher is faster), or None
        while the model is untrained."""
        if self._booster is None or not features:
            return None
        return self._booster.predict(np.stack(features))
