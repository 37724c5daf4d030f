"""/api/v1/stampcard/...: 404 in a store that has not switched the plugin on. Each endpoint runs in
a unit of work: it commits when it answers without an error, and rolls back otherwise."""

from storecrm import customer_or_404, db, endpoint, plugin_blueprint
from storecrm_stampcard import services
from storecrm_stampcard.schemas import StampsOut

bp = plugin_blueprint("stampcard", __name__)


@endpoint(bp, "/customers/<int:customer_id>/stamps", "GET", summary="A customer's stamps",
          response=StampsOut, errors=(401, 404))
def stamps(customer_id):
    customer = customer_or_404(customer_id)  # 404 for a customer the caller's store does not see
    return {"customer_id": customer.id, "stamps": services.balance(db.session, customer.id)}
