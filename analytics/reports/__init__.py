"""Staff reports: channel-neutral answers (``base``), their charts, the reports themselves
(``staff``: stock, forecast, reorder, segments, sales) and their Slack Block Kit form (``slack``)."""
