"""rasa-sdk actions: thin adapters between Rasa and the shop's services in ``analytics/``.

Started with ``rasa run actions --actions actions`` (listen on 127.0.0.1: the webhook has no
authentication of its own). Every action opens its own database session, runs blocking work in a
thread so one slow query never stalls other conversations, and answers with a polite apology
instead of silence when something fails.
"""

import sys
import threading

# Under `rasa run actions`, load the trained analytics and the product matcher once at start (in
# the background, so the server answers /health at once) instead of on the first customer message.
if sys.argv[1:3] == ["run", "actions"]:
    from actions.products import warm_up

    threading.Thread(target=warm_up, name="shopbot-warm-up", daemon=True).start()
