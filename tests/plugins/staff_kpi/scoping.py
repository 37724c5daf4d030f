"""staff_kpi's records in the cross-store matrix (tests/security/scoping_records.py)."""

from tests.security.scoping_records import chain_param, const, record

record("username", const("bob"))  # BJ001's salesperson: SH001's manager sets no target for them
chain_param("month", const("2026-11"))
chain_param("fmt", const("csv"))  # the commission file's format
