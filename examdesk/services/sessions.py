"""Closing and reopening an exam session: the one use case the command line (`session close`,
`session reopen --reason`) and the desk's sessions screen (Ctrl+D, Ctrl+M) share.

Both ask before closing (the CLI at the terminal, the desk with a confirmation panel) and both
need a written reason to reopen; the rules themselves (closing twice refused, the reason
audited with when the session had been closed) are :mod:`proctoring.sessions`'.
"""

from __future__ import annotations

from proctoring.sessions import SessionInfo, close_session, reopen_session, session_info
from proctoring.store import Store


def closing(store: Store, ref: str) -> SessionInfo:
    """What the confirmation says before a close: the session and how many are on its roster."""
    return session_info(store, ref)


def close(store: Store, ref: str, *, actor: str) -> SessionInfo:
    """No more roster changes or check-ins; audited. Closing a closed session is refused."""
    closed = close_session(store, ref, actor=actor)
    return session_info(store, str(closed.id))


def reopen(store: Store, ref: str, *, reason: str, actor: str) -> SessionInfo:
    """A closed session open again, only with a written reason (audited with the time it had
    been closed)."""
    opened = reopen_session(store, ref, reason=reason, actor=actor)
    return session_info(store, str(opened.id))
