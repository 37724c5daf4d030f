"""The navbar's grouping (core/admin/menu.py): any view lands in its category's group, a view
named like a category joins it (no two menus of one name), and what does not fit the bar's
budget goes under "More", in order, with Settings last."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.admin.menu import build_menu, display_width


class Item:
    def __init__(self, name, url=None, children=None, visible=True):
        self.name, self.url, self.children, self.visible = name, url, children, visible

    def is_category(self):
        return self.children is not None

    def get_children(self):
        return [c for c in self.children if c.visible]

    def get_url(self):
        return self.url

    def is_active(self, view):
        return view == self.url

    def is_accessible(self):
        return True

    def is_visible(self):
        return self.visible


def admin(*items):
    return SimpleNamespace(menu=lambda: list(items))


@pytest.fixture(autouse=True)
def _request_context():
    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        yield


def test_groups_by_category_and_merges_a_view_named_like_a_category():
    menu = build_menu(admin(
        Item("Dashboard", "/admin/"),
        Item("Customers", "/admin/customers/"),
        Item("Settings", children=[Item("Stores", "/admin/stores/")]),
        Item("Customers", children=[Item("Import", "/admin/import/"), Item("Hidden", "/x", visible=False)]),
        Item("Loyalty", children=[Item("Cards", "/admin/cards/")]),
    ), "/admin/import/", budget=200)
    names = [g.name for g in menu.bar]
    assert names == ["Dashboard", "Customers", "Loyalty", "Settings"]  # one Customers; Settings last
    customers = menu.bar[1]
    assert [e.url for e in customers.entries] == ["/admin/customers/", "/admin/import/"]
    assert customers.active and customers.link is None
    assert menu.bar[0].link is not None  # a group of one entry of its own name is a plain link
    assert menu.more == []


def test_what_does_not_fit_goes_under_more_in_order():
    items = [Item("Dashboard", "/admin/")] + [Item(f"Group {i}", children=[Item(f"Page {i}", f"/p{i}")])
                                              for i in range(8)]
    menu = build_menu(admin(*items), None, budget=50)
    assert menu.more and [g.name for g in menu.bar + menu.more] == [i.name for i in items]
    assert sum(display_width(g.name) + 4 for g in menu.bar) <= 50


def test_chinese_counts_double():
    assert display_width("会员") == 4 and display_width("More") == 4
