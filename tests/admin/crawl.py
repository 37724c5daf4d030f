"""A small demo chain for the language crawl and the browser tour: the core's demo builder at
a tiny size (every list has rows), with all five bundled plugins on in CAFE01, plus the helpers
that read a page as a person does and find the words a language must not show."""

from __future__ import annotations

import re
import shutil
from urllib.parse import urlsplit

from sqlalchemy import select

from core.demo import DEMO_PASSWORD, build_demo
from tests.conftest import BUNDLED, base_config, enable

STORE = "CAFE01"
ROLES = {"owner": "owner", "manager": "manager", "staff": "staff"}  # role -> demo username

# Words a Chinese page may show in Latin letters: the product's name, abbreviations a Chinese
# shop uses as they are, units and file types.
LATIN_ALLOWED = {
    "storecrm", "English", "RFM", "IP", "VIP", "QR", "SKU", "CSV", "XLSX", "ID", "SMS", "API", "POS", "Email",
    "kg", "g", "ml", "cm", "pcs", "vs", "R", "F", "M", "PO", "Excel",
    "https",  # a web address typed as it is (a webhook's URL)
    "demo",  # the demo builder's name as the actor of what it wrote (data of the demo)
}
# A page in English may name the other language in its own script on the language switch.
CJK_ALLOWED = {"中文",
               "会员卡号", "姓名", "手机号", "生日"}  # the import's accepted Chinese column headers, named as the file has them

LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]+")
EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|/api/v1/\S+|\bv\d+(?:\.\d+)+|\b[\w-]+\.(?:png|jpg|csv|xlsx)\b")
# Lists and detail pages link to these; they are files or JSON, not pages to read.
SKIP_ENDPOINT = re.compile(r"\.(export|ajax_lookup|ajax_update|static|commission_file)$|^storecrm_auth\.")


def build_demo_app(root, template_db):
    """The app on a copy of the migrated template, with the tiny demo chain in it."""
    from core.app import create_app

    target = root / "crawl.db"
    shutil.copy(template_db, target)
    app = create_app(base_config(root, f"sqlite:///{target}", PROPAGATE_EXCEPTIONS=False, LOCALE="zh_CN"))
    quiet = {"echo": lambda *a, **k: None}
    build_demo(app, customers=12, days=3, **quiet)
    enable(app, STORE, *BUNDLED)
    build_demo(app, customers=12, days=3, **quiet)  # seeds the modules just switched on
    return app


def sign_in(app, username: str, locale: str):
    client = app.test_client()
    response = client.post("/admin/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert client.post("/admin/language", data={"locale": locale}).status_code == 302
    with app.app_context():
        from core.extensions import db
        from core.models import Store

        store_id = db.session.scalar(select(Store.id).where(Store.code == STORE))
    assert client.post("/admin/switch-store", data={"store": store_id}).status_code == 302
    return client


def readable_text(html: str) -> str:
    """What a person reads: text nodes, plus placeholders, titles and labels of controls."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    # What a person typed into a form (a message template) is data, like an input's value; and
    # what is marked translate="no" (the literal {{ name }} fields of a template) is never text.
    html = re.sub(r"<textarea\b.*?</textarea>", " ", html, flags=re.S | re.I)
    html = re.sub(r'<(\w+)\b[^>]*\btranslate="no"[^>]*>.*?</\1>', " ", html, flags=re.S | re.I)
    # The list filters come as JSON that a script turns into menus: read their names and options.
    filters = re.search(r'<div id="filter-groups-data"[^>]*>(.*?)</div>', html, flags=re.S)
    shown_filters = ""
    if filters:
        import html as html_lib
        import json

        groups = json.loads(html_lib.unescape(filters.group(1)))
        shown_filters = " ".join([name for name in groups] + [
            str(label) for items in groups.values() for item in items
            for label in [item["operation"]] + [o[1] for o in item.get("options") or []]])
        html = html.replace(filters.group(0), " ")
    # The list actions' confirmations, as JSON for their script (translated by Flask-Admin).
    html = re.sub(r'<div id="actions-confirmation-data".*?</div>', " ", html, flags=re.S)
    html = re.sub(r'<div id="message-data".*?</div>', " ", html, flags=re.S)
    shown_attrs = " ".join(m.group(2) for m in re.finditer(r'\b(placeholder|title|aria-label)="([^"]*)"', html))
    body = re.sub(r"<[^>]+>", " ", html)
    import html as html_lib

    return re.sub(r"\s+", " ", html_lib.unescape(body + " " + shown_attrs) + " " + shown_filters)


def data_values(app) -> tuple[set[str], set[str]]:
    """Values people typed (or the demo wrote as data): (Latin ones a Chinese page may show,
    Chinese ones an English page may show). Codes the program writes are not in here."""
    from sqlalchemy import JSON, String, Text

    from core.extensions import db

    latin_columns = {("product", "sku"), ("product", "name"), ("product", "brand"), ("product", "category"),
                     ("product", "barcode"), ("store", "code"), ("customer", "email"), ("inventory_supplier", "name"),
                     ("campaigns_coupon", "code"), ("api_token", "name"), ("customer", "code"),
                     ("store", "timezone"), ("store", "currency"), ("user_account", "username"),
                     ("sale", "external_id"), ("membership_tier", "code"), ("audit_log", "actor")}
    latin, chinese = set(), set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON)) or
                       type(c.type).__name__ in ("EncryptedText", "EncryptedJSON")]
            if not columns:
                continue
            for row in db.session.execute(select(*columns)).all():
                for column, value in zip(columns, row):
                    if isinstance(value, (dict, list)):  # preferences, interests: what people typed
                        for text in _strings(value):
                            if CJK.search(text):
                                chinese.add(text)
                            if column.name in ("preferences", "interests", "attributes"):
                                latin.add(text)
                        continue
                    if not isinstance(value, str) or not value.strip():
                        continue
                    if CJK.search(value):
                        # A data value shows whole, cut (a message in a list) or as its first
                        # character (a name's avatar): each Chinese run and first character is data.
                        chinese.add(value)
                        chinese.update(CJK.findall(value))
                        chinese.add(value.strip()[0])
                        if len(value) > 20:  # a message: a list cuts it anywhere
                            chinese.update(run[:i] for run in CJK.findall(value) for i in range(2, len(run)))
                    if (table.name, column.name) in latin_columns:
                        latin.add(value)
    return latin, chinese


def _strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str) and value.strip():
        yield value


def strip_values(text: str, values: set[str]) -> str:
    """Take data values out of the text, whole words only (a size "M" is not the M of a word)."""
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = re.sub(r"(?<![A-Za-z])" + re.escape(value) + r"(?![A-Za-z])", " ", text)
    return text


def foreign_words(text: str, locale: str, data: tuple[set[str], set[str]]) -> set[str]:
    """Words the page shows that its language should not: Latin words on a zh_CN page, Chinese
    on an English page, once data values and the allow-lists are taken out."""
    latin, chinese = data
    text = EMAIL_OR_URL.sub(" ", text)
    if locale == "zh_CN":
        text = strip_values(text, latin)
        return {w for w in LATIN_WORD.findall(text) if w not in LATIN_ALLOWED}
    # Every place a data value or an allowed word occurs in the page as it is, then all of those
    # blanked at once: values that overlap (a store name inside a message) never split each other.
    covered = bytearray(len(text))
    for value in chinese | CJK_ALLOWED:
        start = text.find(value)
        while start != -1:
            covered[start:start + len(value)] = b"\x01" * len(value)
            start = text.find(value, start + 1)
    return set(CJK.findall("".join(" " if hit else ch for hit, ch in zip(covered, text))))


def menu_links(html: str) -> list[str]:
    menu = re.search(r'<ul[^>]*id="main-menu".*?</ul>\s*(?=<form|\{|<ul|</div>)', html, flags=re.S)
    section = menu.group(0) if menu else html
    return re.findall(r'href="(/admin[^"#]*)"', section)


def page_links(html: str) -> list[str]:
    return re.findall(r'href="(/admin/[^"#]*)"', html)


def crawl(app, client, locale: str, data, first_urls: list[str], *, per_endpoint: int = 1):
    """Visit the menu, then one page of each endpoint linked from those pages (details, a
    customer, a sale, a ticket...). Returns {url: foreign words} and {url: status}."""
    import html as html_lib

    adapter = app.url_map.bind("localhost")
    seen_endpoints: dict[str, int] = {}
    queue = list(first_urls)
    found, statuses, visited = {}, {}, set()
    while queue:
        url = html_lib.unescape(queue.pop(0))
        path = urlsplit(url).path
        if url in visited:
            continue
        try:
            endpoint, _args = adapter.match(path, method="GET")
        except Exception:  # noqa: BLE001 - a link to a POST-only URL or elsewhere
            continue
        if SKIP_ENDPOINT.search(endpoint) or seen_endpoints.get(endpoint, 0) >= per_endpoint:
            continue
        seen_endpoints[endpoint] = seen_endpoints.get(endpoint, 0) + 1
        visited.add(url)
        response = client.get(url)
        statuses[url] = response.status_code
        if response.status_code != 200 or not response.mimetype == "text/html":
            response.close()
            continue
        html = response.get_data(as_text=True)
        words = foreign_words(readable_text(html), locale, data)
        if words:
            found[url] = words
        queue.extend(page_links(html))
    return found, statuses
