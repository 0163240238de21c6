"""The use cases the command line and the desk share: one typed function each, called by
``examdesk/commands/`` (options → one call inside ``commands/errors.py``'s ``cli_errors`` →
render) and by ``examdesk/views/`` (widgets → one call through the worker → render).

A use case takes parsed, typed inputs (paths, a Store, a transport opener, a listener) and
returns a frozen result or raises a typed error (:class:`examdesk.keyed_error.KeyedError`). It
prints nothing and imports neither typer/rich nor Tk, nor ``examdesk.commands``,
``examdesk.views`` or ``examdesk.app`` (tests/test_layers.py checks it). Importing this package
loads none of its modules: a caller imports the one it uses.
"""
