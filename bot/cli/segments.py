"""``shopbot segments`` and ``shopbot evaluate segments``: customer segmentation."""

from __future__ import annotations

import argparse

from bot.cli.main import add_json_flag, emit
from shop.demo import PLANTED_FAVOURITES
from shop.errors import NoData, ShopbotError
from shop.store import get_engine


def _k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k must be a whole number, got {value!r}") from None
    if not 2 <= k <= 20:
        raise argparse.ArgumentTypeError(f"--k must be between 2 and 20, got {k}")
    return k


def register(sub, evaluate_sub) -> None:
    p = sub.add_parser(
        "segments",
        help="segment customers (RFM + category shares, K-means) and store the result",
        description="Segment the customers who bought something by recency, purchase frequency, "
        "spend per month and category shares (K-means; k chosen by silhouette over 2-8 unless "
        "--k is given), store the segments as a new analytics run and print their profiles.",
    )
    p.add_argument("--k", type=_k, metavar="K", help="number of segments (default: by silhouette)")
    p.add_argument(
        "--latest",
        action="store_true",
        help="show the newest stored segmentation instead of computing a new one",
    )
    add_json_flag(p)
    p.set_defaults(handler=_segments)

    e = evaluate_sub.add_parser(
        "segments",
        help="measure segmentation quality: silhouette, bootstrap stability (ARI), and ARI "
        "against the demo's planted groups",
        description="Fit a segmentation on the current database without storing it and report "
        "the silhouette per k and its stability on any shop: the adjusted Rand index between "
        "the full fit and refits on bootstrap resamples of the customers (k chosen by "
        "silhouette inside each resample); on the demo shop also the adjusted Rand index "
        "against the planted customer groups A-E and where each group landed (and the same at "
        "k=5 when the chosen k differs).",
    )
    e.add_argument("--k", type=_k, metavar="K", help="number of segments (default: by silhouette)")
    e.add_argument(
        "--resamples",
        type=int,
        default=20,
        metavar="N",
        help="bootstrap resamples for the stability (default 20; 0 skips it)",
    )
    add_json_flag(e)
    e.set_defaults(handler=_evaluate)


def _segments(args) -> int:
    from analytics import segmentation

    engine = get_engine()
    if args.latest:
        if args.k is not None:
            raise ShopbotError("--latest shows the stored run; leave out --k or drop --latest")
        stored = segmentation.latest_segments(engine)
        if stored is None:
            raise NoData("no segmentation has been stored yet — run `shopbot segments` first")
        text = "\n".join(
            [
                f"Customer segments — run {stored['run_id']} (model {stored['model_version']}), "
                f"as of {(stored['as_of'] or '')[:10]}, k={stored['k']}",
                "",
                segmentation.format_profiles(stored["segments"]),
            ]
        )
        emit(args, stored, text)
        return 0
    report = segmentation.run_segmentation(engine, k=args.k)
    emit(args, report.to_dict(), report.format())
    return 0


def _evaluate(args) -> int:
    from analytics import segmentation

    if args.resamples < 0:
        raise ShopbotError("--resamples must be 0 or more")
    result = segmentation.evaluate_segments(
        get_engine(), k=args.k, planted=PLANTED_FAVOURITES, resamples=args.resamples
    )
    emit(args, result, segmentation.format_evaluation(result))
    return 0
