"""Customer segmentation: RFM + category-share features, K-means with k chosen by silhouette.

From data to stored results:

* :func:`rfm_features` (``features``) turns order lines into one row of features per customer who
  bought something, *as of* the newest order in the data (not the wall clock, so imported history
  works).
* :class:`Segmenter` (``model``) is a scikit-learn-shaped estimator: parameters in ``__init__``,
  learned state in attributes ending in ``_``, ``fit(features) -> self``, ``predict(features)``.
  It profiles and names every segment (``profiles``: "Electronics enthusiasts — 2 orders/month,
  2,000/month").
* :func:`run_segmentation` (``store``) fits on the store and writes an ``AnalyticsRun`` with its
  ``CustomerSegment`` and ``SegmentProfile`` rows in one transaction; :func:`latest_segments`
  reads the newest stored run back (chat and staff answers never refit).
* :func:`evaluate_segments` (``evaluation``) measures a fit: silhouette, and with planted customer
  groups (the demo shop) the agreement with them.
"""

from analytics.segmentation.evaluation import (
    evaluate_segments,
    format_evaluation,
    planted_agreement,
)
from analytics.segmentation.features import FEATURE_COLUMNS, rfm_features
from analytics.segmentation.model import SELECTION_SAMPLE, SILHOUETTE_SAMPLE, Segmenter
from analytics.segmentation.profiles import format_profiles, format_rate
from analytics.segmentation.store import (
    SegmentationReport,
    customer_segment,
    latest_segments,
    run_segmentation,
)

__all__ = [
    "FEATURE_COLUMNS",
    "SELECTION_SAMPLE",
    "SILHOUETTE_SAMPLE",
    "SegmentationReport",
    "Segmenter",
    "customer_segment",
    "evaluate_segments",
    "format_evaluation",
    "format_profiles",
    "format_rate",
    "latest_segments",
    "planted_agreement",
    "rfm_features",
    "run_segmentation",
]
