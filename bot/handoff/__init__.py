"""Human take-over from Slack, in the Rasa server: the support channel's cards and threads, the
relay between a thread and the customer's chat, and the timers (cards not yet posted, SLA
reminders). The rules that make it exact (one owner, each message once, the outbox) are in
:mod:`shop.handoffs`."""
