"""The virtual CCCD: a card-side implementation used by the demo and the tests.

It shares no protocol code with the reader side, so a reader bug is not mirrored here.
"""
