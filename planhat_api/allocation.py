"""Return large freed buffers to the operating system at once, on glibc."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: glibc's `mallopt` parameter for the size from which an allocation gets a
#: memory mapping of its own (M_MMAP_THRESHOLD in malloc.h).
_M_MMAP_THRESHOLD = -3
#: Allocations of at least this many bytes, such as a page body of 19 MB,
#: are mapped on their own and unmapped when freed.
MMAP_THRESHOLD_BYTES = 1 << 20


def unmap_large_buffers() -> bool:
    """Make glibc map large allocations separately; return False where it cannot.

    glibc raises its mapping threshold each time a mapped block is freed, up
    to 32 MiB, and from then on serves such blocks from a heap that keeps
    them after they are freed. Each thread has its own heap, so a tap that
    receives pages on several threads kept up to a few freed pages per
    thread: 250 MiB more at 1,000,000 tickets than at 100,000 on the
    benchmark machine. A fixed threshold keeps every page body mapped on its
    own and returned at once. Other C libraries are left as they are.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
