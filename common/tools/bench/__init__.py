"""``scripts/bench.py``: seconds per step and GFLOP/s (``speed``), time to the chapter's picture
quality (``quality``), the memory check's model (``memory``), pictures per minute (``batch``)."""
