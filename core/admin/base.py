"""Base classes for every admin view, core or plugin. Use them instead of Flask-Admin's own.

    from core.admin.base import StoreModelView, StoreView, current_store, scope_store_ids

    class TierView(StoreModelView):           # a table
        plugin = "membership"                 # hidden (menu and URL: 404) where membership is off
        min_role = "manager"                  # staff < manager < owner (bundled views: core/roles.py)
        store_column = "store_id"             # rows are limited to the stores the user may see

    class PointsReport(StoreView):            # a free page
        plugin = "membership"

        @expose("/")
        def index(self):
            store = current_store()           # the store picked in the navbar, None = whole chain (owners)
            return self.render("membership/points.html", store=store)

    # in the plugin's hooks.py
    @hookimpl
    def register_admin_views(admin):
        admin.add_view(TierView(Tier, db, name=_l("Tiers"), category=_l("Membership"), endpoint="membership_tiers"))

What the bases do for you:
- login required (anonymous users go to the login page and come back), inactive users refused;
- roles: a bundled view's least role, and each stricter action's, are entries of
  `core.roles.ADMIN_ACTION_FOR` (one table with the API); a third-party view sets `min_role`.
  A lower role gets a 403 and never sees the menu entry;
- `plugin`: while the plugin is off in the current store the menu entry is gone and the
  URLs answer 404 (the chain view, store None, shows it when any of the user's stores has it on);
- `store_column` on model views: list, count, details, edit and delete only see rows whose
  column is in `scope_store_ids()`; a new row gets the current store (forms omit the column).
- CSRF: every POST under /admin is checked (Flask-WTF); templates put `{{ csrf_token() }}`
  in their own forms (Flask-Admin's forms do it already).
"""

from __future__ import annotations

import threading

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_admin import BaseView, tools
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db

STORE_SESSION_KEY = "storecrm_store"
CHAIN = "chain"


def registry():
    return current_app.extensions["storecrm.plugins"]


def current_user_or_none():
    user = current_user._get_current_object() if current_user else None
    return user if user is not None and user.is_authenticated else None


def accessible_stores():
    """The stores the signed-in user works in (every store for owners), by code."""
    from core.models import Store

    user = current_user_or_none()
    if user is None:
        return []
    if "_storecrm_admin_stores" not in g:
        if user.role == "owner":
            g._storecrm_admin_stores = list(db.session.scalars(select(Store).order_by(Store.code)))
        else:
            g._storecrm_admin_stores = sorted(user.stores, key=lambda s: s.code)
    return g._storecrm_admin_stores


def current_store():
    """The store chosen in the navbar's switcher (kept in the session). None means the whole
    chain, which only owners can pick; everyone else always has one of their stores."""
    user = current_user_or_none()
    if user is None:
        return None
    stores = accessible_stores()
    chosen = session.get(STORE_SESSION_KEY)
    if chosen == CHAIN and user.role == "owner":
        return None
    for store in stores:
        if store.id == chosen:
            return store
    if user.role == "owner" and chosen is None:
        return None  # owners start on the chain view
    return stores[0] if stores else None


def set_current_store(value) -> bool:
    """Pick a store id (or CHAIN for owners); False if the user may not pick it."""
    user = current_user_or_none()
    if value == CHAIN:
        if user is None or user.role != "owner":
            return False
        session[STORE_SESSION_KEY] = CHAIN
        return True
    try:
        store_id = int(value)
    except (TypeError, ValueError):
        return False
    if not any(s.id == store_id for s in accessible_stores()):
        return False
    session[STORE_SESSION_KEY] = store_id
    return True


def scope_store_ids() -> list[int]:
    """Store ids the current page covers: the chosen store, or all of the user's stores. The
    chain view leaves sandbox (test) stores out (core/live_stores.py) unless the user works in
    nothing else: pick a sandbox store in the navbar to see its data and figures."""
    store = current_store()
    if store is not None:
        return [store.id]
    return [s.id for s in chain_view_stores()]


def chain_view_stores():
    """The stores the chain view (no store picked) counts: the user's live stores, sandbox
    (test) stores left out (core/live_stores.py), unless the user works in nothing else."""
    stores = accessible_stores()
    return [s for s in stores if not s.sandbox] or stores


def plugin_visible(name: str | None) -> bool:
    """Is plugin `name` on where the admin is looking (the store, or any store of the chain view)?"""
    if not name:
        return True
    reg = registry()
    store = current_store()
    if store is not None:
        return reg.is_enabled(store, name)
    return any(reg.is_enabled(s, name) for s in accessible_stores())


def can_see_personal_data() -> bool:
    """Managers and owners see phone and email in full; staff see them masked (domain.md)."""
    from core.roles import may

    return may(current_user_or_none(), "customers.unmask")


class StoreViewMixin:
    """Access rules shared by every admin view (see the module docstring). The least role of
    a bundled view and of each of its actions is read from `core.roles.ADMIN_ACTION_FOR`, the
    table the API reads too; `min_role` only serves views that table does not know (a
    third-party plugin's)."""

    plugin: str | None = None
    min_role: str = "staff"

    def required_role(self, method: str | None = None, http_method: str | None = None) -> str:
        from core.roles import admin_role

        return admin_role(self.endpoint, method, http_method) or self.min_role

    def is_accessible(self):
        user = current_user_or_none()
        if user is None or not user.is_active:
            return False
        if not user.at_least(self.required_role()):
            return False
        return plugin_visible(self.plugin)

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        # An action stricter than its page (a POST, a reveal) needs its own role.
        if not current_user_or_none().at_least(self.required_role(name, request.method)):
            abort(403)
        return None

    def inaccessible_callback(self, name, **kwargs):
        user = current_user_or_none()
        if user is None:
            return redirect(url_for("storecrm_auth.login", next=request.full_path))
        if self.plugin and not plugin_visible(self.plugin):
            abort(404)  # a switched-off module has no pages at all in this store
        abort(403)


class StoreView(StoreViewMixin, BaseView):
    """A free admin page (`@expose` methods, `self.render(template, ...)`)."""


def _yes_no(view, value, name=None):
    """A tick or a cross whose hover text is 是/否, not Flask-Admin's "active: true"."""
    from flask_babel import gettext
    from markupsafe import Markup

    icon, word = ("fa-check-circle text-success", gettext("Yes")) if value else ("fa-minus-circle text-muted", gettext("No"))
    return Markup('<span class="fa {}" title="{}"></span>').format(icon, word)


def _type_formatters() -> dict:
    """Lists and details show times on the store's clock and stores/staff by name, not repr."""
    from datetime import datetime

    from flask_admin.model import typefmt

    from core.admin.formatting import local_datetime
    from core.models import Store, User

    formatters = dict(typefmt.BASE_FORMATTERS)
    formatters[bool] = _yes_no
    formatters[datetime] = lambda view, value, name=None: local_datetime(value, current_store())
    formatters[Store] = lambda view, value, name=None: value.name
    formatters[User] = lambda view, value, name=None: value.display_name or value.username
    return formatters


class _BuiltOnFirstRead:
    """One of the attributes Flask-Admin's `_refresh_forms_cache` sets (form classes, ajax
    loaders): reading it builds them all, once; the instance's own value then shadows this."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, view, owner=None):
        if view is None:
            return self
        view._build_forms()
        return view.__dict__[self.name]


class StoreModelView(StoreViewMixin, ModelView):
    """A Flask-Admin model view limited to the current store's rows through `store_column`.

    Its forms are scaffolded when a page first uses them, not when the app is built: ~27
    views' forms were a third of create_app, paid by every test and every CLI command."""

    _form_ajax_refs = _BuiltOnFirstRead()
    _create_form_class = _BuiltOnFirstRead()
    _edit_form_class = _BuiltOnFirstRead()
    _delete_form_class = _BuiltOnFirstRead()
    _action_form_class = _BuiltOnFirstRead()
    _list_form_class = _BuiltOnFirstRead()

    store_column: str | None = None
    column_type_formatters = _type_formatters()
    column_type_formatters_detail = column_type_formatters
    page_size = 50
    # Flask-Admin's page-size menu reads "20 items" in every language (its msgid is built at
    # run time, so no catalogue can translate it): lists keep 50 rows a page and paginate.
    can_set_page_size = False
    can_view_details = True

    def get_details_columns(self):
        # Without an explicit list, details show the labelled columns only: the list's and
        # those with a label. Unlabelled ones are internal (hashes, keys, raw JSON) and would
        # read as code to a person.
        if self.column_details_list:
            return super().get_details_columns()
        labelled = set(self.column_labels or {})
        listed = [c for c in (self.column_list or []) if isinstance(c, str)]
        only = list(dict.fromkeys(listed + [n for n in self.scaffold_list_columns() if n in labelled]))
        if not only:
            return super().get_details_columns()
        return self.get_column_names(only_columns=only, excluded_columns=self.column_details_exclude_list)

    def _scoped(self, query):
        if self.store_column is None:
            return query
        return query.filter(getattr(self.model, self.store_column).in_(scope_store_ids()))

    def scope_query(self, query):
        """Further restriction for subclasses (e.g. customers); called on list, count and one."""
        return query

    def get_query(self):
        return self.scope_query(self._scoped(super().get_query()))

    def get_count_query(self):
        return self.scope_query(self._scoped(super().get_count_query()))

    def get_one(self, id):
        # Details, edit and delete fetch by primary key: apply the same scope, so a row of
        # another store answers "not found" rather than leaking through a guessed URL.
        row = super().get_one(id)
        if row is None or (self.store_column is None and type(self).scope_query is StoreModelView.scope_query):
            return row
        pk = getattr(self.model, self._primary_key)
        return self.get_query().filter(pk == getattr(row, self._primary_key)).first()

    def init_actions(self):
        # Flask-Admin scans dir(self) for @action methods on every view built; the methods are
        # the class's, so scan each class once (plus the instance's own attributes, as dir does).
        cls = type(self)
        names = vars(cls).get("_action_names")
        if names is None:  # kept on the class itself: its @action methods do not change
            names = cls._action_names = [p for p in dir(cls)
                                         if any(hasattr(vars(c).get(p), "_action") for c in cls.__mro__)]
        self._actions, self._actions_data = [], {}
        for p in sorted(set(names) | set(vars(self))):
            attr = tools.get_dict_attr(self, p)
            if hasattr(attr, "_action"):
                name, text, desc = attr._action
                self._actions.append((name, text))
                self._actions_data[name] = (getattr(self, p), text, desc)

    def _refresh_forms_cache(self):
        # What Flask-Admin's version sets besides the forms, which pages read without a form.
        if self.form_widget_args is None:
            self.form_widget_args = {}
        if not self.column_editable_list:
            self.column_editable_list = {}
        self._forms_built = False
        self._forms_lock = threading.RLock()  # two first requests at once build them once
        # Stand-ins for the two forms _refresh_cache hands _validate_form_class next (skipped
        # until the forms are built); _refresh_cache below removes them.
        self._create_form_class = self._edit_form_class = None

    def _refresh_cache(self):
        super()._refresh_cache()
        for name, attr in vars(StoreModelView).items():
            if isinstance(attr, _BuiltOnFirstRead):
                vars(self).pop(name, None)  # built again on first read

    def _validate_form_class(self, ruleset, form_class, remove_missing=True):
        # _refresh_cache checks the forms against the form rules; _build_forms does it instead.
        if self._forms_built:
            super()._validate_form_class(ruleset, form_class, remove_missing)

    def _build_forms(self):
        with self._forms_lock:
            if self._forms_built:
                return
            super()._refresh_forms_cache()
            if not self.column_editable_list:
                self._list_form_class = None  # Flask-Admin leaves it unset: nothing reads it then
            self._forms_built = True
            self._validate_form_class(self._form_edit_rules, self._edit_form_class)
            self._validate_form_class(self._form_create_rules, self._create_form_class)

    def scaffold_form(self):
        form = super().scaffold_form()
        if self.store_column and hasattr(form, self.store_column.removesuffix("_id")):
            delattr(form, self.store_column.removesuffix("_id"))
        return form

    def on_model_change(self, form, model, is_created):
        if is_created and self.store_column and getattr(model, self.store_column, None) is None:
            store = current_store()
            if store is None:
                raise ValueError("pick a store in the navbar first")
            setattr(model, self.store_column, store.id)
        return super().on_model_change(form, model, is_created)
