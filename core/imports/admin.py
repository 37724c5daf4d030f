"""The admin's import page: upload a customer or sales file; a background job imports it
(core/imports/jobs.py) and the page lists the store's imports with their status and counts."""

from __future__ import annotations

import io
import os

from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.admin.base import StoreView, accessible_stores, current_store, current_user_or_none, scope_store_ids
from core.errors import DomainError
from core.extensions import db
from core.models import ImportRun

SHOWN = 50  # the latest imports on the page

STATUS = {"queued": _l("queued"), "running": _l("running"), "done": _l("done"), "failed": _l("failed")}
KINDS = {"customers": _l("Customers"), "sales": _l("Sales")}
TEMPLATE_NAMES = {"customers": "customers-template", "sales": "sales-template", "products": "products-template"}


class ImportView(StoreView):

    @expose("/", methods=("GET", "POST"))
    def index(self):
        stores = accessible_stores()
        error = None
        if request.method == "POST":
            error = self._start(stores)
            if error is None:
                return redirect(url_for(".index"))
        chosen = current_store()
        runs = db.session.scalars(select(ImportRun).where(ImportRun.store_id.in_(scope_store_ids()))
                                  .order_by(ImportRun.id.desc()).limit(SHOWN)).all()
        from core.imports.cleanup import error_text, rejects_available, rejects_days, rejects_until

        return self.render("imports/index.html", error=error, stores=stores, runs=runs, status=STATUS, kinds=KINDS,
                           chosen=chosen.code if chosen else None, refresh=any(r.active for r in runs),
                           rejects_available=rejects_available, rejects_until=rejects_until,
                           rejects_days=rejects_days(), error_text=error_text)

    def _start(self, stores) -> str | None:
        from core.imports.jobs import start_import

        upload = request.files.get("file")
        kind = request.form.get("kind")
        if kind not in ("customers", "sales") or upload is None or not upload.filename:
            return _("Choose what to import and a file.")
        store = next((s for s in stores if s.code == request.form.get("store")), None)
        if store is None:
            return _("Choose one of your stores.")
        try:
            run = start_import(db.session, kind=kind, upload=upload, store=store, user=current_user_or_none(),
                               all_or_nothing=bool(request.form.get("all_or_nothing")),
                               with_events=bool(request.form.get("with_events")))
        except DomainError as exc:
            if "file" in exc.fields:
                return _("The file must be CSV or XLSX.")
            return exc.message
        flash(_("%(file)s is being imported; this page shows how far it is.", file=run.file_name), "success")
        return None

    @expose("/template/<kind>.<fmt>")
    def template(self, kind: str, fmt: str):
        """A blank file with the headers the importer reads (Chinese), to fill in and upload."""
        from core.admin.list_export import XLSX
        from core.imports.blank_files import KINDS, blank_file

        if kind not in KINDS or fmt not in ("csv", "xlsx"):
            abort(404)
        mimetype = XLSX if fmt == "xlsx" else "text/csv"
        return send_file(io.BytesIO(blank_file(kind, fmt)), mimetype=mimetype, as_attachment=True,
                         download_name=f"{TEMPLATE_NAMES[kind]}.{fmt}")

    @expose("/<int:import_id>/rejected")
    def rejected(self, import_id: int):
        from core.imports.cleanup import rejects_available
        from core.imports.jobs import decrypted_rejects

        run = db.session.get(ImportRun, import_id)
        # Only the stores this user works in: another store's import answers "not found".
        if run is None or run.store_id not in {s.id for s in accessible_stores()}:
            abort(404)
        if not rejects_available(run):
            abort(404)  # none, or deleted after the retention period (the page says so)
        stem = os.path.splitext(run.file_name)[0] or "import"
        return send_file(io.BytesIO(decrypted_rejects(run)), mimetype="text/csv", as_attachment=True,
                         download_name=f"{stem}.rejected.csv")


def register(admin) -> None:
    admin.add_view(ImportView(name=_l("Import"), category=_l("Customers"), endpoint="imports", url="/admin/import"))
