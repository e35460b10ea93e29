"""What shopbot changes in Rasa 3.6.21's own code, for the CPU a turn costs (bench/REPORT.md).

Nothing is patched on import: the Rasa server's entry point (``bot.server.rasa_server``) calls
:func:`install` once before Rasa starts. Every patch checks the Rasa version it was written for
and leaves Rasa alone (logged) on any other.
"""

from bot.rasa_patches.speedups import install, is_installed, uninstall

__all__ = ["install", "is_installed", "uninstall"]
