"""How a process's memory is kept: the C allocator's large buffers, and
Python's cycle collector.

Every piece a peer sends or receives passes through buffers of up to 1 MiB:
the bytes read for an answer, ZeroMQ's copy of them, ZeroMQ's buffer
for a piece that arrives.  glibc's defaults hand such buffers back to the
kernel as soon as they are freed (mmap'd above 128 KiB, the heap trimmed
above 128 KiB free), so each next piece lands on fresh pages, and fresh
pages cost a page fault each -- on a VM that hands free memory back to its
host (free page reporting) about 2.5 ms of CPU per MiB.  An 8 x 32 MiB
swarm's peers spent 1.1 s of their 8.3 s of CPU in those faults.

So freed buffers stay in the process and are used again: buffers up to
``MMAP_THRESHOLD_BYTES`` come from the heap, and the heap is given back only
when more than ``TRIM_THRESHOLD_BYTES`` of it is free.  What a process holds
at its peak is what it held before; only the churn goes.

The cycle collector is left to run less often: the messages a process
handles are short-lived objects freed by their reference counts, and every
collection walks the tens of thousands of objects its modules made at start
(``gc.freeze`` sets those aside for good).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("swarm.limits")

# Allocations between two collections of the youngest generation (Python's
# default: 700); the older generations keep their default ratios.
YOUNG_COLLECTION_ALLOCATIONS = 10_000

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
# Above the largest piece (1 MiB) and its frames; glibc caps it at 32 MiB.
MMAP_THRESHOLD_BYTES = 4 << 20
# The buffers of the pieces in flight (a few MiB per source) come and go
# many times a second: the heap keeps this much free before it shrinks.
TRIM_THRESHOLD_BYTES = 32 << 20


def keep_freed_buffers() -> bool:
    """Tell glibc's allocator to keep large freed buffers for reuse (call
    before threads start); False where the C library has no ``mallopt``
    (musl, macOS), which then keeps its own defaults."""
    import ctypes  # here, not at import: only the processes that move data pay for it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done: bool = (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                  and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1)
    if not done:
        log.debug("the C allocator kept its defaults for large buffers")
    return done


def collect_less() -> None:
    """Set aside what the imports made, and collect cycles less often (call
    once the process's modules are loaded)."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, older, oldest)
