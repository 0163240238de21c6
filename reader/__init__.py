"""The chip: APDUs, secure messaging, BAC, LDS parsing, and the virtual CCCD.

No GUI, no database. Protocol logic is sans-I/O; a transport object moves the bytes.
"""
