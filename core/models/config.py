from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db


class ConfigVersion(db.Model):
    """One row (id 1): the configuration version, bumped by every change to a configuration
    record (core/config_cache.py)."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
