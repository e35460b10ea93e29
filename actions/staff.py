"""Staff questions: stock, forecasts, reordering, segments, sales.

Answered only for staff on a staff channel (``bot.identity.is_staff``: allowed Slack users, or the
token-protected staff console); everyone else gets a polite refusal and no data. The answers are
``analytics.reports.staff`` reports: on Slack as Block Kit with a chart uploaded to the thread,
elsewhere as plain text.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.types import DomainDict

from actions.common import ShopAction, latest_entity, latest_text
from actions.products import catalog_matcher
from analytics.reports import staff as staff_reports
from analytics.reports.base import StaffReport
from analytics.reports.slack import to_slack
from analytics.serving import get_analytics
from bot.identity import REFUSAL, SLACK_CHANNEL, is_staff
from shop.errors import ShopbotError
from shop.store import get_engine
from shop.text import find_sku

WHICH_PRODUCT = "Which product do you mean? Give me its SKU (like CLO-0042) or its name."
# The words of the question itself, removed before matching product names: otherwise the fuzzy
# matcher hears "forecast" as "Forest Green …".
QUESTION_WORDS = re.compile(
    r"\b(forecasts?|demand|predict\w*|expected|stock|stocks|levels?|inventory|how|many|much|do|"
    r"does|we|us|have|got|left|of|for|the|a|an|in|on|next|coming|this|last|\d+|one|two|three|four|"
    r"days?|weeks?|months?|please|what|whats|is|are|show|me|give|tell|about|sales?|units?)\b",
    re.IGNORECASE,
)


def refused_unless_staff(dispatcher, tracker: Tracker) -> bool:
    """True, after the polite refusal, unless the message came from staff on a staff channel."""
    metadata = (tracker.latest_message or {}).get("metadata")
    if is_staff(tracker.get_latest_input_channel(), metadata):
        return False
    dispatcher.utter_message(text=REFUSAL)
    return True


class StaffAction(ShopAction, ABC):
    """Refuses non-staff; staff get the report of :meth:`report`."""

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        if refused_unless_staff(dispatcher, tracker):
            return []
        channel = tracker.get_latest_input_channel()
        try:
            report = self.report(tracker)
        except ShopbotError as err:  # unknown SKU, nothing trained yet, no sales in the period
            dispatcher.utter_message(text=str(err))
            return []
        if report is None:
            dispatcher.utter_message(text=WHICH_PRODUCT)
        elif channel == SLACK_CHANNEL:
            dispatcher.utter_message(json_message=to_slack(report))
        else:
            dispatcher.utter_message(text=report.to_text())
        return []

    @abstractmethod
    def report(self, tracker: Tracker) -> StaffReport | None:
        """The answer (None when the question lacks what it needs, e.g. a product)."""


def product_sku(tracker: Tracker) -> str | None:
    """The SKU asked about: an sku entity, an SKU in the text, or a product name matched
    against the live catalogue (best match)."""
    sku = latest_entity(tracker, "sku") or find_sku(latest_text(tracker))
    if sku:
        return sku.upper()
    text = latest_entity(tracker, "product") or QUESTION_WORDS.sub(" ", latest_text(tracker))
    if not re.search(r"\w", text):
        return None
    matches = catalog_matcher().find(text, limit=1)
    return matches[0].sku if matches else None


class ActionStockLevel(StaffAction):
    NAME = "action_stock_level"

    def report(self, tracker):
        sku = product_sku(tracker)
        return staff_reports.stock_report(get_engine(), sku) if sku else None


class ActionDemandForecast(StaffAction):
    NAME = "action_demand_forecast"

    def report(self, tracker):
        sku = product_sku(tracker)
        if not sku:
            return None
        period = latest_entity(tracker, "time_period") or latest_text(tracker)
        return staff_reports.forecast_report(
            get_engine(), sku, staff_reports.parse_horizon(period), get_analytics().forecasts
        )


class ActionReorderAdvice(StaffAction):
    NAME = "action_reorder_advice"

    def report(self, tracker):
        return staff_reports.reorder_report(get_engine())


class ActionSegmentReport(StaffAction):
    NAME = "action_segment_report"

    def report(self, tracker):
        return staff_reports.segment_report(get_engine())


class ActionSalesReport(StaffAction):
    NAME = "action_sales_report"

    def report(self, tracker):
        period = latest_entity(tracker, "time_period") or latest_text(tracker)
        return staff_reports.sales_staff_report(get_engine(), period)
