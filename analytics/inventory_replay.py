"""Forecasts judged by the stock they save: the reorder policy replayed on each series' history.

The policy is the one ``shopbot reorder`` advises: every ``review`` steps, order up to
``S`` = the service-level quantile of demand over the lead time plus the review period; an order
arrives ``lead`` steps later. :func:`replay` runs it on actual demand (sales that find no stock
are lost) and counts what happened; ``analytics.inventory_evaluation`` computes the ``S`` of each
review from shopbot's and seasonal naive's sample paths and replays every series with both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ReplayResult:
    """What a policy did on one series over the replayed steps."""

    steps: int
    demand: float
    served: float
    fill_rate: float  # served / demand (1.0 when there was no demand)
    stockout_steps: int  # steps with demand left unserved
    cycles: int  # review cycles replayed
    cycles_with_stockout: int
    cycle_service: float  # share of cycles without a stock-out
    avg_on_hand: float  # mean stock at the end of each step
    ordered: float

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def replay(
    demand: np.ndarray,
    order_up_to: np.ndarray,
    *,
    lead: int,
    review: int,
    on_hand: float | None = None,
) -> ReplayResult:
    """Replays the periodic-review order-up-to policy on ``demand`` (one value per step).

    ``order_up_to[c]`` is S for review cycle ``c`` (starting at step ``c * review``). At the
    start of a cycle: inventory position = on hand + on order; order ``max(0, S - position)``,
    which arrives at the start of step ``t + lead``. Within a step arrivals come first, then the
    demand is served from stock; what cannot be served is lost. Starting stock: ``on_hand``
    (default: the first S, as if the policy had been running). Stock is counted at the end of
    each step.
    """
    demand = np.asarray(demand, dtype=float)
    n = len(demand)
    cycles = math.ceil(n / review)
    if len(order_up_to) < cycles:
        raise ValueError(f"need an order-up-to level for each of the {cycles} review cycles")
    stock = float(order_up_to[0] if on_hand is None else on_hand)
    arriving = np.zeros(n + lead + 1)
    pipeline = 0.0
    served_total = ordered = 0.0
    stockout_steps = 0
    short_cycle = np.zeros(cycles, dtype=bool)
    end_stock = np.zeros(n)
    for t in range(n):
        stock += arriving[t]
        pipeline -= arriving[t]
        if t % review == 0:
            q = max(0.0, float(order_up_to[t // review]) - (stock + pipeline))
            if q > 0:
                arriving[t + lead] += q
                pipeline += q
                ordered += q
                if lead == 0:  # an order that arrives at once is there for today's demand
                    stock += arriving[t]
                    pipeline -= arriving[t]
                    arriving[t] = 0.0
        served = min(stock, demand[t])
        if served < demand[t] - 1e-9:
            stockout_steps += 1
            short_cycle[t // review] = True
        stock -= served
        served_total += served
        end_stock[t] = stock
    total = float(demand.sum())
    return ReplayResult(
        steps=n,
        demand=total,
        served=served_total,
        fill_rate=served_total / total if total > 0 else 1.0,
        stockout_steps=stockout_steps,
        cycles=cycles,
        cycles_with_stockout=int(short_cycle.sum()),
        cycle_service=float(1.0 - short_cycle.mean()) if cycles else 1.0,
        avg_on_hand=float(end_stock.mean()) if n else 0.0,
        ordered=ordered,
    )
