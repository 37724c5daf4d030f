"""The navbar's menu, built from Flask-Admin's registrations so any view added with a
`category` lands in a group on its own: one group per category name (a view without a category
whose name equals a category, e.g. "Customers", joins that group instead of making a second
menu of the same name), the first few groups in the bar, the rest under "More".

Why a budget and not CSS: the bar must stay one row at 1366 px for every role with every
plugin on, in Chinese and in English; a width budget in "characters" (a CJK character counts
double) decides what stays in the bar, so a long English name moves a group to "More"
instead of wrapping the bar."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

# What fits next to the brand and the navbar's own controls at 1366 px (see admin.css):
# measured in half-width characters, plus a few per entry for padding and the caret.
BAR_BUDGET = 74
PER_ENTRY = 4
# Groups that are daily work stay in the bar before plugin groups; "Settings" goes last.
LAST = ("Settings",)


@dataclass
class Entry:
    name: str
    url: str
    active: bool = False


@dataclass
class Group:
    name: str
    key: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(e.active for e in self.entries)

    @property
    def link(self) -> Entry | None:
        """A group of one entry of its own name is a plain link, not a dropdown."""
        return self.entries[0] if len(self.entries) == 1 and self.entries[0].name == self.name else None


@dataclass
class Menu:
    bar: list[Group]
    more: list[Group]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _untranslated_key(name) -> str:
    # lazy_gettext strings keep their msgid: group by it so both languages group alike.
    return str(getattr(name, "_args", [name])[0]) if hasattr(name, "_args") else str(name)


def groups(admin, admin_view) -> list[Group]:
    """Every menu entry the signed-in user may open, grouped by category name."""
    by_key: dict[str, Group] = {}
    order: list[str] = []

    def group_for(name) -> Group:
        key = _untranslated_key(name)
        if key not in by_key:
            by_key[key] = Group(name=str(name), key=key)
            order.append(key)
        return by_key[key]

    def entry(item) -> Entry:
        return Entry(name=str(item.name), url=item.get_url(), active=bool(item.is_active(admin_view)))

    for item in admin.menu():
        if item.is_category():
            children = [c for c in item.get_children() if not c.is_category()]
            if children:
                group_for(item.name).entries.extend(entry(c) for c in children)
        elif item.is_accessible() and item.is_visible():
            group_for(item.name).entries.insert(0, entry(item))
    found = [by_key[k] for k in order]
    return [g for g in found if g.key not in LAST] + [g for g in found if g.key in LAST]


def build_menu(admin, admin_view, budget: int = BAR_BUDGET) -> Menu:
    """The groups in the bar while they fit the budget; the rest, in order, under "More"."""
    found = groups(admin, admin_view)
    if sum(display_width(g.name) + PER_ENTRY for g in found) <= budget:
        return Menu(bar=found, more=[])
    from flask_babel import gettext

    more_width = display_width(gettext("More")) + PER_ENTRY
    bar, more, used = [], [], more_width
    for group in found:
        width = display_width(group.name) + PER_ENTRY
        if not more and used + width <= budget:
            bar.append(group)
            used += width
        else:
            more.append(group)
    return Menu(bar=bar, more=more)
