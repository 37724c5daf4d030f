"""The records the core owns (domain.md). Plugins keep theirs in their own `models.py`."""

from core.models.config import ConfigVersion
from core.models.customer import Activity, Consent, Customer, CustomerTag
from core.models.events import AuditLog, Event, EventDelivery
from core.models.idempotency import IdempotencyKey
from core.models.imports import ImportChunk, ImportRun
from core.models.links import CustomerStoreLink
from core.models.locks import JobLock
from core.models.outbox import JobOutbox
from core.models.periodic import PeriodicRun
from core.models.product import Product
from core.models.sessions import UserSession
from core.models.sale import Refund, RefundLine, Sale, SaleAdjustment, SaleLine, SalePayment, Visit
from core.models.store import Store, StorePlugin
from core.models.types import money, utcnow
from core.models.user import ROLES, ApiToken, User
from core.models.webhooks import DELIVERY_STATES, WebhookDelivery, WebhookSubscription

__all__ = [
    "Activity", "ApiToken", "ConfigVersion", "AuditLog", "Consent", "Customer", "CustomerStoreLink", "CustomerTag", "Event",
    "EventDelivery", "IdempotencyKey", "ImportChunk", "ImportRun", "JobLock", "JobOutbox", "PeriodicRun",
    "Product", "ROLES", "Refund", "RefundLine", "Sale", "SaleAdjustment", "SaleLine", "SalePayment",
    "DELIVERY_STATES", "Store", "StorePlugin", "User", "UserSession", "Visit", "WebhookDelivery", "WebhookSubscription", "money",
    "utcnow",
]
