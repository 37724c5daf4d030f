"""The admin's import page: upload a customer or sales file, see what was taken and why each
rejected row was rejected."""

from __future__ import annotations

import os
import tempfile

from flask import request
from flask_admin import expose
from flask_babel import lazy_gettext as _l

from core.admin.base import StoreView, accessible_stores, current_store, current_user_or_none
from core.classification.panels import _lang
from core.errors import DomainError
from core.extensions import db

TEXT = {
    "en": {"title": "Import customers or sales", "kind": "What", "customers": "Customers", "sales": "Sales",
           "file": "CSV or XLSX file", "store": "Store (for rows without one)", "aon": "All or nothing: import nothing if any row is rejected",
           "events": "Tell the modules about each row (points, messages, stock) — off for history", "go": "Import",
           "rows": "rows", "created": "created", "updated": "updated", "skipped": "skipped (imported before)",
           "rejected": "rejected", "nothing": "Nothing was imported: rows were rejected and all-or-nothing was on.",
           "line": "Line", "field": "Field", "reason": "Reason", "unknown": "Columns not imported",
           "help": "Headers may be Chinese or English (会员卡号, 姓名, 手机号, 生日 … / code, name, phone, birthday …). "
                   "A known phone or card number updates that profile; empty cells erase nothing."},
    "zh": {"title": "导入客户或消费记录", "kind": "类型", "customers": "客户", "sales": "消费记录",
           "file": "CSV 或 XLSX 文件", "store": "门店（行内未写门店时）", "aon": "全部或全不：有任何一行被拒绝则不导入",
           "events": "逐行通知各模块（积分、消息、库存）— 导入历史时请关闭", "go": "导入",
           "rows": "行", "created": "新建", "updated": "更新", "skipped": "跳过（已导入）", "rejected": "拒绝",
           "nothing": "未导入任何数据：有行被拒绝且选择了全部或全不。", "line": "行号", "field": "字段", "reason": "原因",
           "unknown": "未导入的列",
           "help": "表头可用中文或英文（会员卡号、姓名、手机号、生日…）。已存在的手机号或卡号会更新该客户档案；空单元格不会清除已有信息。"},
}


class ImportView(StoreView):
    min_role = "manager"

    @expose("/", methods=("GET", "POST"))
    def index(self):
        t = TEXT[_lang()]
        report, error = None, None
        stores = accessible_stores()
        if request.method == "POST":
            report, error = self._run(stores)
        chosen = current_store()
        return self.render("imports/index.html", t=t, report=report, error=error, stores=stores,
                           chosen=chosen.code if chosen else None)

    def _run(self, stores):
        from core.imports.runner import run_import

        upload = request.files.get("file")
        kind = request.form.get("kind")
        if kind not in ("customers", "sales") or upload is None or not upload.filename:
            return None, "Choose what to import and a file."
        store = next((s for s in stores if s.code == request.form.get("store")), None)
        suffix = os.path.splitext(upload.filename)[1].lower()
        user = current_user_or_none()
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "upload" + suffix)
            upload.save(path)  # streamed to disk; the importer streams it from there
            try:
                report = run_import(db.session, kind, path, store=store,
                                    all_or_nothing=bool(request.form.get("all_or_nothing")),
                                    with_events=bool(request.form.get("with_events")), user=user,
                                    actor=user.username if user else "import")
            except DomainError as exc:
                detail = "; ".join(" ".join(v) for v in exc.fields.values())
                return None, f"{exc.message}" + (f" ({detail})" if detail else "")
        report.file = upload.filename
        from core.audit import audit

        audit("import", actor=user, store=store, details={k: v for k, v in report.as_dict().items() if k != "errors"})
        db.session.commit()
        return report, None


def register(admin) -> None:
    admin.add_view(ImportView(name=_l("Import"), category=_l("Customers"), endpoint="imports", url="/admin/import"))
