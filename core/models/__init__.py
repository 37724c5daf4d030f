"""The records the core owns (domain.md). Plugins keep theirs in their own `models.py`."""

from core.models.customer import Activity, Consent, Customer, CustomerTag
from core.models.events import AuditLog, Event, EventDelivery
from core.models.imports import ImportRun
from core.models.links import CustomerStoreLink
from core.models.locks import JobLock
from core.models.outbox import JobOutbox
from core.models.product import Product
from core.models.sale import Refund, RefundLine, Sale, SaleAdjustment, SaleLine, SalePayment, Visit
from core.models.store import Store, StorePlugin
from core.models.types import money, utcnow
from core.models.user import ROLES, ApiToken, User

__all__ = [
    "Activity", "ApiToken", "AuditLog", "Consent", "Customer", "CustomerStoreLink", "CustomerTag", "Event", "EventDelivery", "ImportRun",
    "JobLock", "JobOutbox",
    "Product", "ROLES", "Refund", "RefundLine", "Sale", "SaleAdjustment", "SaleLine", "SalePayment",
    "Store", "StorePlugin", "User", "Visit", "money", "utcnow",
]
