"""Signed roster PDFs, fraud reports, their verification."""
