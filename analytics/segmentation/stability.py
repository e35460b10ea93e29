"""How stable a segmentation is, on any shop: the bootstrap adjusted Rand index.

Each resample draws the customers with replacement, fits the whole segmentation again — k
chosen by silhouette inside the resample, as a real run would — and assigns every customer of
the shop to the resample's segments. Its agreement with the segmentation fitted on everyone
(ARI, 1 = the same partition, 0 = chance) says whether the segments are a property of the shop
or of the particular customers it happens to have. No planted groups needed.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from analytics.segmentation.model import Segmenter
from shop.errors import NoData

DEFAULT_RESAMPLES = 20


def bootstrap_stability(
    features: pd.DataFrame,
    reference: Segmenter,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    k: int | None = None,
    random_state: int = 0,
) -> dict:
    """ARI between ``reference`` (fitted on ``features``) and ``resamples`` bootstrap refits
    (k by silhouette inside each unless ``k`` is given), each predicted on every customer:
    mean, 5th percentile, minimum, the ARIs, and how often each k was chosen."""
    rng = np.random.default_rng(random_state)
    labels = reference.predict(features)
    aris, ks = [], []
    n = len(features)
    for b in range(resamples):
        rows = rng.integers(0, n, n)
        sample = features.iloc[rows]
        try:
            model = Segmenter(k=k, random_state=random_state + b + 1).fit(sample)
        except NoData:
            continue  # a resample too uniform to segment counts as no evidence either way
        aris.append(float(adjusted_rand_score(labels, model.predict(features))))
        ks.append(int(model.k_))
    if not aris:
        return {"resamples": 0, "ari_mean": None, "ari_p05": None, "ari_min": None}
    a = np.array(aris)
    return {
        "resamples": len(aris),
        "k_reference": int(reference.k_),
        "ari_mean": round(float(a.mean()), 4),
        "ari_p05": round(float(np.quantile(a, 0.05)), 4),
        "ari_min": round(float(a.min()), 4),
        "aris": [round(x, 4) for x in aris],
        "k_chosen": {str(kk): c for kk, c in sorted(Counter(ks).items())},
        "k_by_silhouette": k is None,
    }
