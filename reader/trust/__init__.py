"""Chip trust: passive, active and chip authentication, and the policy over their results."""
