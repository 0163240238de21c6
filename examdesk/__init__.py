"""The examdesk desktop app and command line; wires the other packages together."""
