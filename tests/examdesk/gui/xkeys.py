"""Typing letters the X keymap lacks (Vietnamese) into the real window, reliably.

``xdotool type`` binds each such letter to a scratch keycode, presses it and unbinds it again
at once; Tk translates a key event into a letter when it reads it, so when the Tk thread was
busy for a few milliseconds the keycode meant nothing any more and the letter was lost
("đúng" arrived as "úng"). Here each letter gets a spare keycode of its own for the whole run,
and XTest presses it: by the time Tk reads the event the binding is still there.
"""

from __future__ import annotations

import ctypes
from typing import Any

XDOTOOL_SCRATCH = 8  # the first spare keycode: xdotool borrows it, leave it to xdotool


def keysym(char: str) -> int:
    """Latin-1 letters are their own keysym; the rest use the Unicode keysym range."""
    cp = ord(char)
    return cp if 0xA0 <= cp < 0x100 else 0x01000000 | cp


class XKeyboard:
    """One connection to the X server; letters bound to spare keycodes as they are needed."""

    def __init__(self, display: str) -> None:
        x: Any = ctypes.CDLL("libX11.so.6")
        xtst: Any = ctypes.CDLL("libXtst.so.6")
        ptr, ulong_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong)
        int_p = ctypes.POINTER(ctypes.c_int)
        x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = ptr, [ctypes.c_char_p]
        x.XGetKeyboardMapping.restype = ulong_p
        x.XGetKeyboardMapping.argtypes = [ptr, ctypes.c_ubyte, ctypes.c_int, int_p]
        x.XChangeKeyboardMapping.argtypes = [ptr, ctypes.c_int, ctypes.c_int, ulong_p,
                                             ctypes.c_int]
        x.XDisplayKeycodes.argtypes = [ptr, int_p, int_p]
        x.XFree.argtypes = [ptr]
        x.XSync.argtypes = [ptr, ctypes.c_int]
        x.XCloseDisplay.argtypes = [ptr]
        xtst.XTestFakeKeyEvent.argtypes = [ptr, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self._x, self._xtst = x, xtst
        self._dpy = x.XOpenDisplay(display.encode())
        if not self._dpy:
            raise OSError(f"cannot open X display {display}")
        lo, hi, per = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        x.XDisplayKeycodes(self._dpy, ctypes.byref(lo), ctypes.byref(hi))
        count = hi.value - lo.value + 1
        syms = x.XGetKeyboardMapping(self._dpy, lo.value, count, ctypes.byref(per))
        try:
            n = per.value
            self._spare = [lo.value + i for i in range(count)
                           if lo.value + i != XDOTOOL_SCRATCH
                           and not any(syms[i * n + j] for j in range(n))]
        finally:
            x.XFree(syms)
        if not self._spare:
            raise OSError("no spare keycode in the X keymap")
        self._bound: dict[str, int] = {}
        self._next = 0  # round robin: the letter bound longest ago gives up its keycode

    def bind(self, chars: str) -> bool:
        """Give each letter of ``chars`` a keycode before any is typed; True when the keymap
        changed. The caller then lets Tk read the MappingNotify: a key pressed in the same
        instant as its binding was, under load, read with the old map and lost ("thi hộ"
        arrived as "thi h")."""
        changed = False
        for char in dict.fromkeys(chars):
            if char in self._bound:
                continue
            # The caller lets Tk read each letter before the next: a keycode taken back here
            # no longer has unread events.
            code = self._spare[self._next % len(self._spare)]
            self._next += 1
            self._bound = {c: k for c, k in self._bound.items() if k != code}
            self._x.XChangeKeyboardMapping(self._dpy, code, 1,
                                           (ctypes.c_ulong * 1)(keysym(char)), 1)
            self._bound[char] = code
            changed = True
        self._x.XSync(self._dpy, 0)
        return changed

    def tap(self, char: str) -> None:
        """Press and release the key for ``char`` (bound to a spare keycode first if new)."""
        if char not in self._bound:
            self.bind(char)
        code = self._bound[char]
        self._xtst.XTestFakeKeyEvent(self._dpy, code, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._dpy, code, 0, 0)
        self._x.XSync(self._dpy, 0)

    def close(self) -> None:
        self._x.XCloseDisplay(self._dpy)
