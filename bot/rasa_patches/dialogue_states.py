"""Dialogue states over the recent history only.

Every action prediction asks each policy for the conversation's states, and Rasa computes them
for the whole history (``Domain.states_for_tracker_history``: the events still applied are
replayed and a state is built at every action) although MemoizationPolicy and TEDPolicy keep
only their last ``max_history`` states and RulePolicy's rules look only as far back as the
longest rule. So building the states costs more with every turn of a conversation.

Here a scan of the tracker follows Rasa's loop: it keeps the events still applied (as
``applied_events`` gives them), the tracker they give, and for every action (a "turn" of Rasa's
loop) what the loop's hidden-turn bookkeeping looks at (the action's ``hide_rule_turn``,
whether the follow-up action or active loop lets it count, the latest action). Full states are
built only for the turns the policies can still need: the last ``SCAN_KEEP`` turns, and the
turns of the last ``SCAN_KEEP`` states the ML policies see (rule-only turns are hidden from
them, so theirs can lie far back) with the turn their user input comes from. The scan is kept
with the tracker and extended by the events added since; events that rewrite the applied
history (an undone turn, a form's folded turns, a new loop name) make it start again from the
tracker's events. The states then go through Rasa's own steps (rule-only features, substituted
user input, cleaning, slicing, last user input). If the kept turns cannot give exactly Rasa's
states, Rasa's own code computes them all.

Three patches use the scan: ``MaxHistoryTrackerFeaturizer.prediction_states`` (Memoization
and TED), ``RulePolicy._prediction_states`` and ``DialogueStateTracker.applied_events``.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from typing import Any

from bot.rasa_patches.base import PRIVATE_PREFIX, Patch, Patches, clone_tracker, is_live_tracker

log = logging.getLogger(__name__)

SCAN_KEEP = 40
SCAN_ATTR = PRIVATE_PREFIX + "state_scan"  # on a tracker: its scan
_RULE_STATES_ATTR = PRIVATE_PREFIX + "rule_states"  # on a RulePolicy: rule_states_needed


class Scans:
    """What the scans share: how many failed, and which pairs of domains are known to be equal
    (the tracker store's and the policies' are two objects loaded from one model)."""

    KNOWN_DOMAIN_PAIRS = 8

    def __init__(self) -> None:
        self.failures = 0
        self._domain_pairs: OrderedDict[tuple[int, int], tuple[Any, Any, bool]] = OrderedDict()

    def failed(self, tracker: Any) -> None:
        """Logs and counts a failed scan and drops it; Rasa's own code then does the work."""
        log.exception("state scan of %s failed; using Rasa's own code", tracker.sender_id)
        self.failures += 1
        tracker.__dict__.pop(SCAN_ATTR, None)

    def same_domain(self, a: Any, b: Any) -> bool:
        """True if domains ``a`` and ``b`` are the same; compared once per recent pair."""
        if a is b:
            return True
        key = (id(a), id(b))
        known = self._domain_pairs.pop(key, None)
        if known is None or known[0] is not a or known[1] is not b:
            known = (a, b, a.as_dict() == b.as_dict())  # the references keep the ids unique
        self._domain_pairs[key] = known
        while len(self._domain_pairs) > self.KNOWN_DOMAIN_PAIRS:
            self._domain_pairs.popitem(last=False)
        return known[2]


SCANS = Scans()


def _copy_state(state: dict) -> dict:
    """A copy of a state whose sub-state dicts are copies too (their values are immutable)."""
    return {key: dict(sub) if isinstance(sub, dict) else sub for key, sub in state.items()}


def _action_name(sub_state: Any) -> Any:
    return sub_state.get("action_name") if isinstance(sub_state, dict) else None


class StateScan:
    """Rasa's ``states_for_tracker_history`` loop over a tracker's applied events, kept up to
    date as events are added, with full states for the turns the policies may need."""

    def __init__(self, tracker: Any, domain: Any) -> None:
        self.domain = domain
        self.rebuild(tracker)

    # -- following the events ------------------------------------------------------------------

    def _reset(self, tracker: Any) -> None:
        self.applied: list = []
        self.prior = tracker.init_copy()  # as DialogueStateTracker.generate_all_prior_trackers
        # Per turn: hide_rule_turn of its action, whether that flag can change
        # ``turn_was_hidden`` there, and the latest action then.
        self.hides: list[bool] = []
        self.may_hide: list[bool] = []
        self.latest: list[Any] = []
        self.raw: dict[int, dict] = {}  # turn -> Domain.get_active_state of the tracker then
        # Loop name -> (position in ``applied`` of its latest execution, that execution's turn,
        # the tracker right after it): where a later execution folds the loop's turns back to.
        self.loop_marks: dict[str, tuple[int, int, Any]] = {}

    def _visit(self, hide_rule_turn: bool, build: bool) -> None:
        prior = self.prior
        if build:
            self.raw[len(self.hides)] = self.domain.get_active_state(prior)
        self.hides.append(hide_rule_turn)
        self.may_hide.append(
            not prior.followup_action and not prior.latest_action_name == prior.active_loop_name
        )
        self.latest.append(self.domain._get_prev_action_sub_state(prior))

    def rebuild(self, tracker: Any) -> None:
        """Scans all of ``tracker``'s events: once for the turns, once more for the states of
        the turns that are kept."""
        from rasa.shared.core.events import ActionExecuted, ActiveLoop

        events = tracker.events
        self.loop_names = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
        applied = rasa_applied_events(tracker)
        self._reset(tracker)
        for position, event in enumerate(applied):
            if isinstance(event, ActionExecuted):
                self._visit(event.hide_rule_turn, build=False)
            self.prior.update(event)
            self._mark_loop(event, position)
        keep = self._turns_to_keep()
        hides, may_hide, latest, final_prior = self.hides, self.may_hide, self.latest, self.prior
        loop_marks = self.loop_marks
        self._reset(tracker)
        turn = 0
        for event in applied:
            if isinstance(event, ActionExecuted):
                if turn in keep:
                    self.raw[turn] = self.domain.get_active_state(self.prior)
                turn += 1
            self.prior.update(event)
        self.applied, self.hides, self.may_hide, self.latest = applied, hides, may_hide, latest
        self.prior, self.loop_marks = final_prior, loop_marks
        self._mark(tracker)

    def _mark_loop(self, event: Any, position: int) -> None:
        from rasa.shared.core.events import ActionExecuted

        if isinstance(event, ActionExecuted) and event.action_name in self.loop_names:
            self.loop_marks[event.action_name] = (
                position,
                len(self.hides) - 1,
                clone_tracker(self.prior),
            )

    def _fold_loop(self, loop_name: str) -> bool:
        """Does what ``applied_events`` does for a repeated execution of ``loop_name``: drops the
        actions and user messages since its previous execution (and not this one); False if
        that execution's tracker was not kept."""
        from rasa.shared.core.events import ActionExecuted
        from rasa.shared.core.trackers import DialogueStateTracker

        mark = self.loop_marks.get(loop_name)
        DialogueStateTracker._undo_till_previous_loop_execution(loop_name, self.applied)
        position = None  # the previous execution: now the last action left
        for i in range(len(self.applied) - 1, -1, -1):
            event = self.applied[i]
            if isinstance(event, ActionExecuted) and event.action_name == loop_name:
                position = i
                break
        if mark is None or position is None or mark[0] != position:
            return False
        _, turn, after = mark
        self.prior = clone_tracker(after)
        for event in self.applied[position + 1 :]:  # the events it kept (no actions)
            self.prior.update(event)
        del self.hides[turn + 1 :], self.may_hide[turn + 1 :], self.latest[turn + 1 :]
        self.raw = {t: state for t, state in self.raw.items() if t <= turn}
        self.loop_marks = {n: m for n, m in self.loop_marks.items() if m[0] <= position}
        return True

    def _mark(self, tracker: Any) -> None:
        events = tracker.events
        self.n_events = len(events)
        self.first_event = events[0] if events else None
        self.last_event = events[-1] if events else None
        self._final: tuple[int, dict] | None = None

    def follows(self, tracker: Any) -> bool:
        """True if ``tracker``'s events start with the events this scan has seen."""
        events = tracker.events
        n = self.n_events
        return n <= len(events) and (
            n == 0 or (events[0] is self.first_event and events[n - 1] is self.last_event)
        )

    def extend(self, tracker: Any) -> bool:
        """Follows the events added to ``tracker`` since; False if they rewrite the applied
        history (the scan must then be rebuilt)."""
        from rasa.shared.core.events import (
            ActionExecuted,
            ActionReverted,
            ActiveLoop,
            Restarted,
            SessionStarted,
            UserUtteranceReverted,
        )

        for event in itertools.islice(tracker.events, self.n_events, None):
            if isinstance(event, (Restarted, SessionStarted)):
                self._reset(tracker)
                continue
            if isinstance(event, (ActionReverted, UserUtteranceReverted)):
                return False
            if isinstance(event, ActiveLoop) and event.name and event.name not in self.loop_names:
                return False  # applied_events treats earlier executions of it differently
            if isinstance(event, ActionExecuted):
                if (
                    event.action_name in self.loop_names
                    and not tracker._first_loop_execution_or_unhappy_path(
                        event.action_name, self.applied
                    )
                ):
                    if not self._fold_loop(event.action_name):
                        return False
                    continue  # the loop's turns are folded together, this execution dropped
                self._visit(event.hide_rule_turn, build=True)
            self.applied.append(event)
            self.prior.update(event)
            self._mark_loop(event, len(self.applied) - 1)
        self._mark(tracker)
        if len(self.raw) > 4 * SCAN_KEEP:
            keep = self._turns_to_keep()
            self.raw = {turn: state for turn, state in self.raw.items() if turn in keep}
        return True

    def copy(self, tracker: Any) -> StateScan:
        """This scan for a copy of the tracker it follows (shares no mutable part)."""
        new = StateScan.__new__(StateScan)
        new.__dict__.update(self.__dict__)
        new.applied, new.hides = list(self.applied), list(self.hides)
        new.may_hide, new.latest = list(self.may_hide), list(self.latest)
        new.raw, new.loop_names = dict(self.raw), set(self.loop_names)
        new.loop_marks = dict(self.loop_marks)
        new.prior = clone_tracker(self.prior)
        new._mark(tracker)
        return new

    # -- the states ------------------------------------------------------------------------------

    def _visible(self, ignore_rule_only_turns: bool) -> list[tuple[int, Any]]:
        """The turns whose states Rasa's loop keeps, each with the previous-action sub-state
        it substitutes (``last_ml_action_sub_state``); the end of the history is turn
        ``len(self.hides)``."""
        n = len(self.hides)
        visible: list[tuple[int, Any]] = []
        last_ml = None
        hidden = False
        for turn in range(n + 1):
            if ignore_rule_only_turns:
                if turn < n:
                    latest, may_hide, hide = (
                        self.latest[turn],
                        self.may_hide[turn],
                        self.hides[turn],
                    )
                else:
                    prior = self.prior
                    latest, hide = prior.latest_action, False
                    may_hide = not prior.followup_action and not (
                        prior.latest_action_name == prior.active_loop_name
                    )
                if not hidden:
                    last_ml = latest
                if may_hide:
                    hidden = hide
                if hidden:
                    continue
            visible.append((turn, last_ml))
        return visible

    def _prev_action_name(self, turn: int) -> Any:
        latest = self.latest[turn] if turn < len(self.hides) else self.prior.latest_action
        return _action_name(latest)

    def _chain_start(self, visible: list[tuple[int, Any]], start: int) -> int:
        """Index in ``visible`` of the state whose user input the states from ``start`` on
        inherit (Rasa copies it into every state not right after action_listen): the latest
        one before ``start`` right after action_listen, else the first."""
        for i in range(start - 1, 0, -1):
            if self._prev_action_name(visible[i][0]) == "action_listen":
                return i
        return 0

    def _turns_to_keep(self) -> set[int]:
        """The last SCAN_KEEP turns; the turns of the last SCAN_KEEP states the ML policies see
        (not counting states after action_unlikely_intent), and the turn their user input may
        come from."""
        n = len(self.hides)
        keep = set(range(max(0, n - SCAN_KEEP), n))
        visible = self._visible(True)
        counted = 0
        start = len(visible)
        while start > 0 and counted < SCAN_KEEP:
            start -= 1
            turn, last_ml = visible[start]
            keep.add(turn)
            previous_action = _action_name(last_ml) if last_ml else self._prev_action_name(turn)
            counted += previous_action != "action_unlikely_intent"
        if start > 0:
            keep.add(visible[self._chain_start(visible, start)][0])
        keep.discard(n)
        return keep

    def _final_state(self) -> dict:
        if self._final is None or self._final[0] != self.n_events:
            self._final = (self.n_events, self.domain.get_active_state(self.prior))
        return self._final[1]

    def states(
        self, ignore_rule_only_turns: bool, rule_only_data: dict | None
    ) -> tuple[list[dict] | None, bool]:
        """(the last states Rasa's loop gives, True if they are all of them); (None, False) if
        the first of them would take its user input from a state not built."""
        from rasa.shared.core.constants import PREVIOUS_ACTION, USER
        from rasa.shared.core.trackers import is_prev_action_listen_in_state

        domain = self.domain
        n = len(self.hides)
        visible = self._visible(ignore_rule_only_turns)
        # The latest visible turns whose full states are there.
        start = len(visible)
        while start > 0 and (visible[start - 1][0] == n or visible[start - 1][0] in self.raw):
            start -= 1

        def raw(turn: int) -> dict:
            return self._final_state() if turn == n else self.raw[turn]

        inherited = None  # the state before ``start`` as far as the states after it see it
        if start and ignore_rule_only_turns:
            chain = self._chain_start(visible, start)
            if visible[chain][0] in self.raw:
                inherited = {}
                user = raw(visible[chain][0]).get(USER)
                if user:
                    inherited[USER] = dict(user)  # the kept state stays as it is
            else:  # begin with a state that inherits nothing
                while start < len(visible) and (
                    self._prev_action_name(visible[start][0]) != "action_listen"
                ):
                    start += 1
        states: list[dict] = []
        for turn, last_ml_action_sub_state in visible[start:]:
            state = _copy_state(raw(turn))
            if ignore_rule_only_turns:
                domain._remove_rule_only_features(state, rule_only_data)
                if states:
                    domain._substitute_rule_only_user_input(state, states[-1])
                elif inherited is not None:
                    domain._substitute_rule_only_user_input(state, inherited)
                elif start and not is_prev_action_listen_in_state(state):
                    return None, False
                if last_ml_action_sub_state:
                    state[PREVIOUS_ACTION] = dict(last_ml_action_sub_state)
            states.append(domain._clean_state(state))
        return states, start == 0


def scan_of(tracker: Any, domain: Any) -> StateScan:
    """The state scan of ``tracker`` as it is now: its own, extended by the events added since,
    or a new one."""
    scan = tracker.__dict__.get(SCAN_ATTR)
    if scan is not None and SCANS.same_domain(scan.domain, domain) and scan.follows(tracker):
        if scan.n_events == len(tracker.events) or scan.extend(tracker):
            return scan
    tracker.__dict__.pop(SCAN_ATTR, None)  # (it may be half extended)
    scan = StateScan(tracker, domain)
    tracker.__dict__[SCAN_ATTR] = scan
    return scan


def applied_events(self: Any) -> list:
    """``DialogueStateTracker.applied_events``: the events its state scan keeps (the same list
    Rasa's loop makes, kept up to date with the events added since), else Rasa's."""
    scan = self.__dict__.get(SCAN_ATTR)
    if scan is not None and scan.follows(self):
        if scan.n_events == len(self.events) or scan.extend(self):
            return list(scan.applied)
        del self.__dict__[SCAN_ATTR]  # half extended: the next prediction scans afresh
    return APPLIED_EVENTS.original(self)


def last_states(
    tracker: Any,
    domain: Any,
    count: int,
    ignore_rule_only_turns: bool,
    rule_only_data: dict | None,
    ignore_action_unlikely_intent: bool,
) -> list[dict] | None:
    """The last ``count`` of the states Rasa's featurizer makes of ``tracker`` (before it
    chooses the last user input), or None if they need the whole history."""
    from rasa.core.featurizers.tracker_featurizers import (
        _is_prev_action_unlikely_intent_in_state,
    )

    try:
        states, complete = scan_of(tracker, domain).states(ignore_rule_only_turns, rule_only_data)
    except Exception:  # a bug here must not cost the turn: Rasa's own code gives the states
        SCANS.failed(tracker)
        return None
    if states is None:
        return None
    if ignore_action_unlikely_intent:
        states = [s for s in states if not _is_prev_action_unlikely_intent_in_state(s)]
    if not complete and len(states) < count:
        return None
    return states[-count:]


def max_history_prediction_states(
    self: Any,
    trackers: list,
    domain: Any,
    use_text_for_last_user_input: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict | None = None,
    ignore_action_unlikely_intent: bool = False,
) -> list[list[dict]]:
    """``MaxHistoryTrackerFeaturizer.prediction_states``: the same states, built only for
    the last ``max_history`` turns of a conversation."""
    if not self.max_history or not all(is_live_tracker(t) for t in trackers):
        return PREDICTION_STATES.original(
            self,
            trackers,
            domain,
            use_text_for_last_user_input,
            ignore_rule_only_turns,
            rule_only_data,
            ignore_action_unlikely_intent,
        )
    trackers_as_states = []
    for tracker in trackers:
        states = last_states(
            tracker,
            domain,
            self.max_history,
            ignore_rule_only_turns,
            rule_only_data,
            ignore_action_unlikely_intent,
        )
        if states is None:  # Rasa's way, as in its prediction_states
            states = self._create_states(
                tracker,
                domain,
                ignore_rule_only_turns=ignore_rule_only_turns,
                rule_only_data=rule_only_data,
            )
            if ignore_action_unlikely_intent:
                states = self._remove_action_unlikely_intent_from_states(states)
            states = self.slice_state_history(states, self.max_history)
        trackers_as_states.append(states)
    self._choose_last_user_input(trackers_as_states, use_text_for_last_user_input)
    return trackers_as_states


def rule_states_needed(policy: Any) -> int:
    """How many of the latest states RulePolicy's lookups can look at: one more than its
    longest rule (or loop condition), in states."""
    from rasa.core.policies.rule_policy import (
        RULES,
        RULES_FOR_LOOP_UNHAPPY_PATH,
        RULES_NOT_IN_STORIES,
    )

    lookup = policy.lookup
    keys = [*lookup.get(RULES, {}), *lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {})]
    keys += lookup.get(RULES_NOT_IN_STORIES, [])
    longest = 0
    for key in keys:
        try:
            states = json.loads(key)
        except (TypeError, ValueError):
            continue  # a named source such as "predicting default action with intent restart"
        if isinstance(states, list):
            longest = max(longest, len(states))
    return longest + 1


def rule_prediction_states(
    self: Any,
    tracker: Any,
    domain: Any,
    use_text_for_last_user_input: bool = False,
    rule_only_data: dict | None = None,
) -> list[dict]:
    """``RulePolicy._prediction_states`` cut to the states its rules can reach.

    RulePolicy gets every state of the conversation but (1) checks a rule against the latest
    states only as far back as the rule is long, (2) looks up the loop conditions (at most
    two states) the same way, and (3) otherwise keys its prediction source by all states,
    which only serves to ask whether that key is a rule not used in stories: a key longer
    than every rule is not, whether it is cut or not. Cut one state longer than the longest
    rule, all three give what they give on the whole list (only the debug log shows fewer
    states)."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.policy import SupportedData

    featurizer = self.featurizer
    if (
        not is_live_tracker(tracker)
        or type(featurizer) is not MaxHistoryTrackerFeaturizer
        or featurizer.max_history
        or self.supported_data() == SupportedData.ML_DATA
    ):
        return RULE_STATES.original(
            self, tracker, domain, use_text_for_last_user_input, rule_only_data
        )
    needed = self.__dict__.get(_RULE_STATES_ATTR)
    if needed is None:
        needed = self.__dict__[_RULE_STATES_ATTR] = rule_states_needed(self)
    states = last_states(tracker, domain, needed, False, rule_only_data, False)
    if states is None:
        return RULE_STATES.original(
            self, tracker, domain, use_text_for_last_user_input, rule_only_data
        )
    featurizer._choose_last_user_input([states], use_text_for_last_user_input)
    return states


def rasa_applied_events(tracker: Any) -> list:
    """Rasa's own ``applied_events`` of ``tracker``."""
    method = APPLIED_EVENTS.original if APPLIED_EVENTS.installed else type(tracker).applied_events
    return method(tracker)


_FEATURIZER = "rasa.core.featurizers.tracker_featurizers:MaxHistoryTrackerFeaturizer"
_TRACKER = "rasa.shared.core.trackers:DialogueStateTracker"
_DOMAIN = "rasa.shared.core.domain:Domain"
_USES = [  # what the scan and the states it builds rely on
    f"{_DOMAIN}.get_active_state",
    f"{_DOMAIN}._get_prev_action_sub_state",
    f"{_DOMAIN}._remove_rule_only_features",
    f"{_DOMAIN}._substitute_rule_only_user_input",
    f"{_DOMAIN}._clean_state",
    f"{_TRACKER}.init_copy",
    f"{_TRACKER}._first_loop_execution_or_unhappy_path",
    f"{_TRACKER}._undo_till_previous_loop_execution",
    f"{_FEATURIZER}._create_states",
    f"{_FEATURIZER}._choose_last_user_input",
    f"{_FEATURIZER}.slice_state_history",
]
PREDICTION_STATES = Patch(
    _FEATURIZER, "prediction_states", max_history_prediction_states, requires=_USES
)
RULE_STATES = Patch(
    "rasa.core.policies.rule_policy:RulePolicy",
    "_prediction_states",
    rule_prediction_states,
    requires=_USES,
)
APPLIED_EVENTS = Patch(_TRACKER, "applied_events", applied_events, requires=_USES)
PATCHES = Patches("dialogue states", PREDICTION_STATES, RULE_STATES, APPLIED_EVENTS)
