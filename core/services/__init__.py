"""Business rules of the core: plain functions that take a session and return values."""
