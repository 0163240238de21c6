"""Python's cycle collector, run on the Tk thread while a window is open.

A Tk object's finalizer (``tkinter.Variable.__del__``, ``PhotoImage.__del__``) talks to Tcl. The
collector runs on whichever thread happens to allocate, so with workers, the frame hub and the
face process's pipe readers about, those finalizers ran on a worker: Tcl then waits for the Tk
thread's main loop to take the call, up to a second per object when it is not there. Widgets
live in reference cycles (master ↔ child), so a window's worth of them freed at once stalled a
check-in or the camera for tens of seconds (a desk test hung at "Saving…" for 60 s; another saw
"no picture from the camera"). Here automatic collection is off while the window lives, and the
same generational rule runs from the window's own tick, so every Tk finalizer runs where Tcl is.
"""

from __future__ import annotations

import gc


class TkThreadCollector:
    """Start on the Tk thread; call :meth:`tick` from the window's ``after`` loop; :meth:`stop`
    when the window closes (automatic collection is back, and what the window left is collected
    here, on the Tk thread)."""

    def __init__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.collections = 0

    def tick(self) -> None:
        """CPython's own rule: a young collection when enough objects were allocated, an older
        generation when enough young collections happened. Young ones take ~1 ms."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if thresholds[0] == 0 or counts[0] < thresholds[0]:
            return
        generation = 0
        if counts[1] >= thresholds[1]:
            generation = 2 if counts[2] >= thresholds[2] else 1
        gc.collect(generation)
        self.collections += 1

    def stop(self) -> None:
        if self._was_enabled:
            gc.enable()
        gc.collect()
