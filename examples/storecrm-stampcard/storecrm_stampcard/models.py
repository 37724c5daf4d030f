"""Tables of the plugin, prefixed with its name. Foreign keys may point at the core's
`customer`, `store` and `sale` tables; times are UTCDateTime (stored in UTC)."""

from storecrm import UTCDateTime, db, utcnow


class Stamp(db.Model):
    """Stamps earned (positive) or taken back (negative), one row per sale or refund event."""

    __tablename__ = "stampcard_stamp"

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    store_id = db.Column(db.ForeignKey("store.id"), nullable=False)
    # One row per event: a retried delivery never stamps twice.
    event_id = db.Column(db.Integer, nullable=False, unique=True)
    stamps = db.Column(db.Integer, nullable=False)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
