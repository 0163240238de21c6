"""The use cases the command line and the desk share: one typed function each, called by
``examdesk/commands/`` (options → one call → render) and by ``examdesk/views/`` (widgets → one
call through the worker → render).

A service prints nothing and imports neither typer/rich nor Tk; it never imports
``examdesk.commands``, ``examdesk.views`` or ``examdesk.app`` (tests/test_layers.py checks it).
Importing this package loads none of its modules: a caller imports the one it uses.
"""
