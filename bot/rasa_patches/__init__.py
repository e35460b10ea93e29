"""What shopbot changes in Rasa 3.6.21's own code, for the CPU a turn costs
(bench/REPORT.md, "Rasa patches: what each one saves").

One module per change, each a group of :class:`~bot.rasa_patches.base.Patch` objects:

- :mod:`~bot.rasa_patches.response_validation`: action server responses checked with a
  validator built once;
- :mod:`~bot.rasa_patches.action_call`: the action server gets the session's recent events;
- :mod:`~bot.rasa_patches.event_types`: event classes found by type name once;
- :mod:`~bot.rasa_patches.dialogue_states`: the policies' states built for the recent turns;
- :mod:`~bot.rasa_patches.tracker_copy`: tracker copies without replaying every event;
- :mod:`~bot.rasa_patches.sql_read_back`: the SQL tracker store reads only the new rows.

Nothing is patched on import: the Rasa server's entry point (``bot.server.rasa_server``) calls
:func:`install` once before Rasa starts. Every patch checks the Rasa version it was written for
and, on any other, nothing is installed (logged).
"""

from __future__ import annotations

from bot.rasa_patches import (
    action_call,
    dialogue_states,
    event_types,
    response_validation,
    sql_read_back,
    tracker_copy,
)
from bot.rasa_patches.base import Patches

MODULES = (
    response_validation,
    action_call,
    event_types,
    dialogue_states,
    tracker_copy,
    sql_read_back,
)
ALL = Patches("all", *(patch for module in MODULES for patch in module.PATCHES))


def install() -> bool:
    """Installs every patch; True if they are installed (now or before), False (and Rasa left
    alone) if any of them was not written for this Rasa."""
    return ALL.install()


def uninstall() -> None:
    """Puts Rasa's own methods back (for comparing with them; a server never needs it)."""
    ALL.uninstall()


def is_installed() -> bool:
    """True while every patch is installed."""
    return ALL.installed


__all__ = ["ALL", "MODULES", "install", "is_installed", "uninstall"]
