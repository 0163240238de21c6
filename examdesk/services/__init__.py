"""The use cases the command line and the desk share: one typed function each.

A use case takes parsed, typed inputs (paths, a Store, a transport opener, a listener) and
returns a frozen result or raises a typed error (:class:`examdesk.keyed_error.KeyedError`). It
prints nothing and imports neither typer/rich nor Tk, nor ``examdesk.commands``,
``examdesk.views`` or ``examdesk.app`` (tests/test_layers.py checks it): the CLI renders its
result as text or JSON, the desk as widgets.
"""
