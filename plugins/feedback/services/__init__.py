"""The feedback plugin's rules, as plain functions on a session (one module per concern)."""
