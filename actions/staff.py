"""Staff questions (stock, forecasts, reordering, segments, sales).

Answered only for staff on a staff channel (``bot.staff.is_staff``: allowed Slack users, or the
token-protected staff console); everyone else gets a polite refusal. The answers themselves are
filled in by the staff-assistant work: replace :meth:`StaffAction.answer` in each class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ShopAction
from bot.staff import REFUSAL, is_staff

NOT_AVAILABLE = "Sorry, {topic} isn't available in the chat yet."


class StaffAction(ShopAction, ABC):
    """Refuses non-staff; staff get :meth:`answer`."""

    @property
    @abstractmethod
    def TOPIC(self) -> str:  # noqa: N802  (a class constant in every subclass)
        """What the report is called in messages."""

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        metadata = (tracker.latest_message or {}).get("metadata")
        if not is_staff(tracker.get_latest_input_channel(), metadata):
            dispatcher.utter_message(text=REFUSAL)
            return []
        return self.answer(dispatcher, tracker)

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(text=NOT_AVAILABLE.format(topic=self.TOPIC))
        return []


class ActionStockLevel(StaffAction):
    NAME = "action_stock_level"
    TOPIC = "the stock level report"


class ActionDemandForecast(StaffAction):
    NAME = "action_demand_forecast"
    TOPIC = "the demand forecast"


class ActionReorderAdvice(StaffAction):
    NAME = "action_reorder_advice"
    TOPIC = "reorder advice"


class ActionSegmentReport(StaffAction):
    NAME = "action_segment_report"
    TOPIC = "the customer segment report"


class ActionSalesReport(StaffAction):
    NAME = "action_sales_report"
    TOPIC = "the sales report"
