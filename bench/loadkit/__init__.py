"""What the conversation benchmarks share: a throwaway shop and servers (``world``), a trivial
action server (``stub_actions``), the customer conversations (``conversations``), the bounded
async load generator (``driver``), process memory (``procs``) and the tables (``report``)."""
