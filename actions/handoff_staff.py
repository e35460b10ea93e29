"""Staff questions about hand-offs: which are open, and how fast the team answers them."""

from __future__ import annotations

from actions.staff import StaffAction
from analytics.reports.handoffs import handoff_stats_report, open_handoffs_report
from shop.store import get_engine


class ActionOpenHandoffs(StaffAction):
    NAME = "action_open_handoffs"

    def report(self, tracker):
        return open_handoffs_report(get_engine())


class ActionHandoffStats(StaffAction):
    NAME = "action_handoff_stats"

    def report(self, tracker):
        return handoff_stats_report(get_engine())
