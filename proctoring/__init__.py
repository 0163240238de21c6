"""Exam sessions, rosters, check-in decisions, attendance, audit log, storage, sync."""
