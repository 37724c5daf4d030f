"""One role table for the API and the admin (core/roles.py): every admin URL of the app, with
all bundled plugins on, is covered by `ADMIN_ACTION_FOR`, and each role meets exactly the table
there: a role below the entry gets 403, the entry's role and above never do (and nothing
answers 5xx). GETs and POSTs (empty forms) alike."""

from __future__ import annotations

import re

import pytest

from core.roles import ADMIN_ACTION_FOR, ROLE_FOR, admin_role
from tests.admin.conftest import login
from tests.conftest import BUNDLED, build_chain, enable

# Access rules do not depend on the backend: SQLite only.
ONE_BACKEND = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

RANK = {"staff": 0, "manager": 1, "owner": 2}
USERS = {"staff": "alice", "manager": "manager", "owner": "owner"}
# Not views: signing in and out, the store and language switches (any signed-in person).
OUTSIDE_VIEWS = {"storecrm_auth", "admin.static"}
ARGUMENT_VALUES = {"export_type": "csv", "fmt": "csv", "plugin_name": "membership"}


def _url(rule) -> str:
    def value(match):
        converter, name = match.group(1), match.group(2)
        return ARGUMENT_VALUES.get(name, "1" if converter == "int" else "x")

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule.rule)


def admin_requests(app):
    """(view endpoint, exposed method, HTTP method, URL) of every admin URL of the app."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint in OUTSIDE_VIEWS \
                or rule.endpoint.split(".")[0] in OUTSIDE_VIEWS:
            continue
        view, _, method = rule.endpoint.partition(".")
        for http in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield view, method, http, _url(rule)


@pytest.fixture
def env(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    chain = build_chain(app)
    enable(app, "SH001", *BUNDLED)
    clients = {}
    for role, username in USERS.items():
        client = app.test_client()
        assert login(client, username).status_code == 302
        assert client.post("/admin/switch-store", data={"store": chain.ids["sh"]}).status_code == 302
        clients[role] = client
    return app, clients


def test_every_action_of_the_table_is_a_known_role():
    assert set(ROLE_FOR.values()) <= set(RANK)
    assert set(ADMIN_ACTION_FOR.values()) <= set(ROLE_FOR)


@ONE_BACKEND
def test_every_admin_endpoint_answers_each_role_as_the_role_table_says(env):
    app, clients = env
    missing, wrong = [], []
    seen = 0
    for view, method, http, url in admin_requests(app):
        required = admin_role(view, method, http)
        if required is None:
            missing.append(f"{http} {url} ({view}.{method})")
            continue
        seen += 1
        for role, client in clients.items():
            response = client.open(url, method=http, data={} if http == "POST" else None)
            allowed = RANK[role] >= RANK[required]
            status = response.status_code
            response.close()  # an export streams: end it before the next request
            if (allowed and (status == 403 or status >= 500)) or (not allowed and status != 403):
                wrong.append(f"{role:7} {http:4} {url}: {status} (table: {required})")
    assert not missing, "admin endpoints missing from core/roles.py ADMIN_ACTION_FOR:\n" + "\n".join(missing)
    assert not wrong, "answers that differ from the role table:\n" + "\n".join(wrong)
    assert seen > 150  # every view of the core and of the five plugins was walked


# Actions the admin and the API share: (action, API method, path).
SHARED_WITH_API = [
    ("modules.toggle", "PUT", "/stores/SH001/plugins/feedback"),
    ("membership.tiers.change", "POST", "/membership/tiers"),
    ("membership.points.adjust", "POST", "/membership/members/1/adjustments"),
    ("inventory.suppliers.change", "POST", "/inventory/suppliers"),
    ("campaigns.manage", "POST", "/campaigns/segments"),
    ("staff_kpi.team.view", "GET", "/staff_kpi/leaderboard"),
    ("analytics.view", "GET", "/analytics/sales"),
    ("classification.settings.change", "PUT", "/classification/settings"),
]


@ONE_BACKEND
def test_the_api_refuses_the_same_roles_as_the_admin(env):
    """An action shared by the admin and the API answers 403 to the same roles in both."""
    app, _clients = env
    from core.extensions import db
    from core.models import ApiToken, User

    client = app.test_client()
    with app.app_context():
        tokens = {}
        for role, username in USERS.items():
            user = db.session.query(User).filter_by(username=username).one()
            row, raw = ApiToken.issue(f"t-{role}", user=user)
            db.session.add(row)
            tokens[role] = raw
        db.session.commit()
    wrong = []
    for action, method, path in SHARED_WITH_API:
        for role, raw in tokens.items():
            response = client.open(f"/api/v1{path}?store=SH001", method=method, json={},
                                   headers={"Authorization": f"Bearer {raw}"})
            if (response.status_code == 403) != (RANK[role] < RANK[ROLE_FOR[action]]):
                wrong.append(f"{role} {method} {path}: {response.status_code} (table: {action} = {ROLE_FOR[action]})")
    assert not wrong, "\n".join(wrong)
