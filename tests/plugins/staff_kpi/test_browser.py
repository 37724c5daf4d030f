"""The staff report in a real browser, in Chinese: figures, labels and the drawn charts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.admin.conftest import live, page, sign_in  # noqa: F401 - the shared browser fixtures

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture
def admin_env(kpi):
    return SimpleNamespace(app=kpi.app, chain=kpi.chain)


def test_a_manager_reads_last_months_report_in_chinese_with_charts(page, kpi, live):  # noqa: F811
    kpi.till.sell("alice", "2026-10-05 10:00", [("LATTE-M", 2, "28.00")])
    kpi.till.sell("manager", "2026-10-06 10:00", [("BEANS-1KG", 1, "1200.00")])
    sign_in(page, "manager")
    assert page.request.post(live + "/admin/language", form={"locale": "zh_CN"}).ok
    page.goto("/admin/staff_kpi/report/?period=month&from=2026-10-01")
    heading = page.inner_text("h4")
    assert "员工业绩报表" in heading and "上海南京路店" in heading and "2026-10-01 – 2026-10-31" in heading
    table = page.inner_text("table[data-staff-report]")
    for label in ("销售员", "净销售额", "达成率", "毛利", "客单价", "复购率", "新顾客", "门店合计"):
        assert label in table, label
    assert page.inner_text("tr[data-username=alice] td[data-net]") == "¥56.00"
    assert page.inner_text("tfoot tr[data-totals]").split()[:2] == ["门店合计", "¥1,256.00"]
    assert "计入退款所在期间" in page.inner_text("p.small")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-trend'))"
                           " && Chart.getChart(document.getElementById('chart-stores'))")
    trend = page.evaluate("() => Chart.getChart(document.getElementById('chart-trend')).data.datasets.map(d => d.label)")
    assert sorted(trend) == ["Alice", "Manager"]
    # the menu speaks Chinese too
    assert "员工绩效" in page.inner_text("nav.navbar")
