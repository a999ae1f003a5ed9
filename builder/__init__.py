"""Everything from a parsed Dockerfile to an image: instructions, planning, cache, store, CLI."""

import time as _time

LOADED_NS = _time.time_ns()  # when this process loaded cairn's code (a forked worker: its parent's)
