"""The periodic scheduler (core/scheduling.py) with the clock moved by hand: slots claimed once
whichever scheduler asks, a missed slot run once, nightly work on each store's clock and the
chain's, runs recorded and logged under the job's own name. On SQLite without Redis (the jobs
run in the scheduler's thread, as in `storecrm run`); the fault tests run it with real workers,
PostgreSQL and Redis (tests/faults/test_periodic_exactly_once.py)."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.models import JobOutbox, PeriodicRun, Store
from core.scheduling import PeriodicJob, PeriodicScheduler, run_periodic, scheduler_status
from tests.conftest import Api, build_chain

UTC = timezone.utc


@pytest.fixture
def database_url(tmp_path, templates):
    """The scheduling rules are the same on both backends; their SQL (a unique insert) is
    exercised on PostgreSQL by the fault tests."""
    target = tmp_path / "storecrm.db"
    shutil.copy(templates["sqlite"], target)
    return f"sqlite:///{target}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def scheduler(app, *names: str) -> PeriodicScheduler:
    sched = PeriodicScheduler(app)
    sched.jobs = [job for job in sched.jobs if job.name in names]
    assert {job.name for job in sched.jobs} == set(names)
    return sched


def claims(app, job: str | None = None) -> list[tuple[str, str, datetime, str | None]]:
    with app.app_context():
        stmt = select(PeriodicRun.job, PeriodicRun.scope, PeriodicRun.slot, PeriodicRun.outcome).order_by(PeriodicRun.id)
        if job:
            stmt = stmt.where(PeriodicRun.job == job)
        found = [tuple(r) for r in db.session.execute(stmt)]
        db.session.rollback()
    return found


def classified(app) -> set[int]:
    """The scopes whose classes have been recomputed (the user-visible effect of the job)."""
    from core.classification.models import ClassificationRun

    with app.app_context():
        found = set(db.session.scalars(select(ClassificationRun.scope_id)))
        db.session.rollback()
    return found


def test_nightly_classification_runs_at_each_stores_local_hour_and_the_chains_on_a_utc_server(make_app):
    from core.classification.models import CHAIN_SCOPE
    from core.classification.settings import save_settings

    app = make_app()
    chain = build_chain(app)
    sh, bj = chain.ids["sh"], chain.ids["bj"]
    with app.app_context():
        db.session.execute(update(Store).where(Store.id == bj).values(timezone="Europe/Berlin"))
        save_settings(db.session, None, {"chain_timezone": "America/New_York"})
        db.session.commit()
    sched = scheduler(app, "core.classification_nightly", "core.classification_nightly_chain")

    # The first look at a nightly job starts its schedule: the slot just past is not run.
    assert sched.tick_once(at("2026-01-05 10:00")) == []
    assert {outcome for *_, outcome in claims(app)} == {"skipped"} and classified(app) == set()
    # 02:14 in Shanghai: not yet.
    assert sched.tick_once(at("2026-01-05 18:14")) == [] and classified(app) == set()
    # 02:16 in Shanghai (18:16 UTC): Shanghai's store, nobody else.
    assert len(sched.tick_once(at("2026-01-05 18:16"))) == 1
    assert classified(app) == {sh}
    # 02:16 in Berlin (01:16 UTC in winter): Berlin's store.
    assert len(sched.tick_once(at("2026-01-06 01:16"))) == 1
    assert classified(app) == {sh, bj}
    # 02:16 in New York (07:16 UTC): the chain-wide classes, on the chain's clock.
    assert len(sched.tick_once(at("2026-01-06 07:16"))) == 1
    assert classified(app) == {sh, bj, CHAIN_SCOPE}
    ran = [(job, scope, slot) for job, scope, slot, outcome in claims(app) if outcome == "ok"]
    assert ran == [("core.classification_nightly", f"store:{sh}", at("2026-01-05 18:15")),
                   ("core.classification_nightly", f"store:{bj}", at("2026-01-06 01:15")),
                   ("core.classification_nightly_chain", "chain", at("2026-01-06 07:15"))]
    # Summer time moves the UTC hour, not the local one: each at its 02:15 of the day before.
    assert len(sched.tick_once(at("2026-07-01 00:16"))) == 3
    assert {(scope, slot) for _, scope, slot, _ in claims(app)[-3:]} == {
        (f"store:{bj}", at("2026-07-01 00:15")),  # 02:15 in Berlin (UTC+2)
        (f"store:{sh}", at("2026-06-30 18:15")),  # 02:15 in Shanghai (UTC+8, no summer time)
        ("chain", at("2026-06-30 06:15")),  # 02:15 in New York (UTC-4)
    }


def test_two_schedulers_claim_each_slot_once_and_a_missed_stretch_runs_once(make_app, caplog):
    from tests.jobs.jobfuncs import periodic_tick

    app = make_app()
    first, second = PeriodicScheduler(app), PeriodicScheduler(app)
    for sched in (first, second):
        sched.jobs = [PeriodicJob("tests.jobs.jobfuncs.periodic_tick", seconds=60, name="test.tick"),
                      PeriodicJob("tests.jobs.jobfuncs.periodic_tick", cron="0 3 * * *", name="test.nightly")]
    assert periodic_tick  # the job both schedulers run
    caplog.set_level(logging.INFO, logger="core.scheduling")

    def ticks() -> int:
        from core.models import AuditLog

        with app.app_context():
            n = db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test_tick"))
            db.session.rollback()
        return n

    now = at("2026-03-01 18:58:30")  # 02:58:30 on the chain's clock (Asia/Shanghai, the default)
    assert len(first.tick_once(now)) == 1 and second.tick_once(now) == []  # the interval job, once
    assert ticks() == 1
    # Both look every few seconds through 02:58-03:01 (Shanghai): one run per minute, one nightly run.
    for seconds in range(5, 200, 5):
        moment = now + timedelta(seconds=seconds)
        first.tick_once(moment)
        second.tick_once(moment)
    assert ticks() == 1 + 3 + 1  # then 02:59, 03:00, 03:01 and the nightly 03:00, each once
    # Nobody looks for three days: one run per job, not one per missed minute or night.
    later = at("2026-03-04 01:30:10")
    assert len(second.tick_once(later)) == 2 and first.tick_once(later) == []
    assert ticks() == 5 + 2
    slots = [slot for job, _, slot, outcome in claims(app, "test.nightly") if outcome == "ok"]
    assert slots == [at("2026-03-01 19:00"), at("2026-03-03 19:00")]  # 03:00 in Shanghai
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("periodic job test.tick [chain, slot 2026-03-04 01:30:00 UTC] started") for m in logged)
    assert any(m.startswith("periodic job test.tick [chain, slot 2026-03-04 01:30:00 UTC] finished: ok in ") for m in logged)


def claimed_row(job: str, **values) -> int:
    """A slot claimed at 03:00 (in an app context)."""
    run = PeriodicRun(job=job, scope="chain", slot=at("2026-03-01 03:00"), claimed_by="h:1", **{"attempts": 0, **values})
    db.session.add(run)
    db.session.commit()
    return run.id


def test_a_run_is_recorded_and_never_done_twice_and_an_orphaned_one_is_picked_up(make_app, caplog):
    app = make_app()
    caplog.set_level(logging.INFO)
    with app.app_context():
        # A worker died mid-run: started, never ended.
        run_id = claimed_row("test.tick", started_at=at("2026-03-01 03:00:01"), attempts=1)
        run_periodic(run_id, "tests.jobs.jobfuncs.periodic_tick")
        run_periodic(run_id, "tests.jobs.jobfuncs.periodic_tick")  # handed over twice: runs once
        row = db.session.get(PeriodicRun, run_id)
        assert (row.outcome, row.attempts, row.error) == ("ok", 2, None)
        assert row.finished_at >= row.started_at and row.duration_ms >= 0
        from core.models import AuditLog

        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test_tick")) == 1
    logged = [r.getMessage() for r in caplog.records]
    assert any("test.tick [chain, slot 2026-03-01 03:00:00 UTC]: picking up the run started 03:00:01 UTC that never "
               "ended (its worker died); attempt 2" in m for m in logged)
    assert any(m == "periodic job test.tick [chain, slot 2026-03-01 03:00:00 UTC] already ran; not run again"
               for m in logged)


def test_a_failing_run_is_recorded_failed_with_its_error_and_logged(make_app, caplog):
    app = make_app()
    caplog.set_level(logging.INFO)
    with app.app_context():
        run_id = claimed_row("test.broken")
        with pytest.raises(ModuleNotFoundError):
            run_periodic(run_id, "tests.jobs.no_such_module.job")
        row = db.session.get(PeriodicRun, run_id)
        assert (row.outcome, row.attempts) == ("failed", 1) and "no_such_module" in row.error
    assert any(r.levelname == "ERROR" and r.getMessage().startswith(
        "periodic job test.broken [chain, slot 2026-03-01 03:00:00 UTC] failed after ") for r in caplog.records)


def test_with_redis_down_the_scheduler_parks_its_runs_and_keeps_going(make_app, caplog):
    from tests.services import free_port

    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    sched = PeriodicScheduler(app)
    sched.jobs = [PeriodicJob("tests.jobs.jobfuncs.periodic_tick", seconds=60, name="test.tick")]
    caplog.set_level(logging.WARNING)
    assert len(sched.tick_once(at("2026-03-01 03:00:10"))) == 1
    assert len(sched.tick_once(at("2026-03-01 03:01:10"))) == 1  # still claiming
    with app.app_context():
        parked = db.session.execute(select(JobOutbox.path, JobOutbox.args, JobOutbox.job_id).order_by(JobOutbox.id)).all()
        ids = [r[0] for r in db.session.execute(select(PeriodicRun.id).order_by(PeriodicRun.id))]
        db.session.rollback()
    assert parked == [("core.scheduling.run_periodic", [run_id, "tests.jobs.jobfuncs.periodic_tick", {}, "test.tick"],
                       f"storecrm-periodic-{run_id}") for run_id in ids]


def test_recompute_answers_202_while_redis_is_down_and_the_job_waits_in_the_database(make_app):
    from tests.services import free_port

    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    chain = build_chain(app)
    answer = Api(app.test_client(), token=chain.manager_token).post("/classification/recompute", {})
    assert answer.status_code == 202, answer.json
    assert answer.json == {"queued": True, "job_id": "storecrm-classification-recompute", "parked": True}
    with app.app_context():
        assert db.session.scalars(select(JobOutbox.path)).all() == ["core.classification.jobs.nightly_recompute"]


def test_scheduler_status_reports_the_last_claimer_and_each_jobs_last_success(make_app):
    app = make_app()
    sched = PeriodicScheduler(app)
    sched.jobs = [PeriodicJob("tests.jobs.jobfuncs.periodic_tick", seconds=60, name="test.tick")]
    assert scheduler_status(app)["alive"] is False
    sched.tick_once()
    status = scheduler_status(app)
    assert status["alive"] is True and status["leader"] == sched.me
    assert status["jobs"]["test.tick"]["last_success"] is not None
    assert status["jobs"]["test.tick"]["last_failure"] is None


def test_old_claims_are_pruned_but_each_jobs_latest_is_kept(make_app):
    from core.scheduling import prune_periodic_runs

    app = make_app()
    now = at("2026-03-20 04:50")
    with app.app_context():
        for job, scope, days_ago in [("a", "chain", 30), ("a", "chain", 20), ("a", "chain", 1), ("b", "store:1", 40),
                                     ("b", "store:2", 40), ("b", "store:2", 16)]:
            db.session.add(PeriodicRun(job=job, scope=scope, slot=now - timedelta(days=days_ago), claimed_by="h:1",
                                       attempts=1, outcome="ok"))
        db.session.commit()
        assert prune_periodic_runs(now) == 3
        left = sorted((r.job, r.scope, (now - r.slot).days) for r in db.session.scalars(select(PeriodicRun)))
    # a monthly job's only row, however old, still tells the scheduler its schedule has started
    assert left == [("a", "chain", 1), ("b", "store:1", 40), ("b", "store:2", 16)]


def test_care_messages_and_surveys_go_out_once_a_day_at_each_stores_own_time_and_catch_up(make_app):
    """On a UTC server: campaigns' care messages at each store's `care_time` and feedback's
    surveys at its `survey_time`, Shanghai (UTC+8) and Berlin (UTC+1 in winter); a run late
    after an outage does the store's day it was due, once; a run repeated does nothing more."""
    from core.services.store_plugins import update_settings
    from plugins.campaigns.models import OutboxEntry
    from plugins.feedback.models import Survey
    from tests.conftest import enable
    from tests.plugins.campaigns.conftest import FAST, Shop

    app = make_app()
    chain = build_chain(app)
    sh, bj = chain.ids["sh"], chain.ids["bj"]
    with app.app_context():
        db.session.execute(update(Store).where(Store.id == bj).values(timezone="Europe/Berlin"))
        db.session.commit()
    for code in ("SH001", "BJ001"):
        enable(app, code, "campaigns", "feedback")
    shop = Shop(app, chain)
    shop.settings("SH001", **FAST, care_time="09:30")
    shop.settings("BJ001", **FAST)  # care_time left at 10:00
    with app.app_context():
        update_settings(db.session, db.session.get(Store, sh), "feedback", {"survey_time": "11:00"}, actor="test")
        db.session.commit()
    born = {}  # customer -> (store, birthday); greeted 3 days ahead
    for name, token, day in [("沪九", chain.till, "01-09"), ("沪十一", chain.till, "01-11"),
                             ("柏九", chain.till_bj, "01-09"), ("柏十", chain.till_bj, "01-10"),
                             ("柏十一", chain.till_bj, "01-11")]:
        born[name] = shop.customer(name, consent=("sms",), token=token, birthday=f"1990-{day}")
    shop.sell(born["柏十一"], "30.00", days_ago=4, token=chain.till_bj)  # owes a survey, due now

    def greeted() -> set[str]:
        with app.app_context():
            ids = set(db.session.scalars(select(OutboxEntry.customer_id).where(OutboxEntry.topic == "care.birthday")))
            db.session.rollback()
        return {name for name, cid in born.items() if cid in ids}

    def survey_pending() -> bool:
        with app.app_context():
            state = db.session.scalars(select(Survey.state)).one()
            db.session.rollback()
        return state == "pending"

    sched = scheduler(app, "campaigns.automations", "feedback.surveys")
    assert sched.tick_once(at("2026-01-05 10:00")) == []  # the schedule starts: nothing run
    assert sched.tick_once(at("2026-01-06 01:29")) == []  # 09:29 in Shanghai
    assert len(sched.tick_once(at("2026-01-06 01:31"))) == 1 and greeted() == {"沪九"}  # 09:31 in Shanghai
    assert len(sched.tick_once(at("2026-01-06 03:01"))) == 1 and survey_pending()  # Shanghai's surveys, 11:01
    assert sched.tick_once(at("2026-01-06 08:59")) == []  # 09:59 in Berlin
    assert len(sched.tick_once(at("2026-01-06 09:01"))) == 2  # 10:01 in Berlin: care and surveys
    assert greeted() == {"沪九", "柏九"} and not survey_pending()
    ran = [(job, scope, slot) for job, scope, slot, outcome in claims(app) if outcome == "ok"]
    assert set(ran) == {("campaigns.automations", f"store:{sh}", at("2026-01-06 01:30")),  # 09:30 Shanghai
                        ("feedback.surveys", f"store:{sh}", at("2026-01-06 03:00")),  # 11:00 Shanghai
                        ("campaigns.automations", f"store:{bj}", at("2026-01-06 09:00")),  # 10:00 Berlin
                        ("feedback.surveys", f"store:{bj}", at("2026-01-06 09:00"))} and len(ran) == 4

    # Nobody ran on the 7th; back at 05:00 UTC on the 8th (13:00 in Shanghai, 06:00 in Berlin):
    # Shanghai's run of the 8th (birthdays on the 11th); Berlin's of the 7th, its day still due
    # (birthdays on the 10th; the 11th is the 8th's work, at 10:00 Berlin time). Each once.
    assert len(sched.tick_once(at("2026-01-08 05:00"))) == 4
    assert sched.tick_once(at("2026-01-08 05:00:30")) == []
    assert greeted() == {"沪九", "柏九", "沪十一", "柏十"}
    late = {(scope, slot) for job, scope, slot, _ in claims(app, "campaigns.automations")[-2:]}
    assert late == {(f"store:{sh}", at("2026-01-08 01:30")), (f"store:{bj}", at("2026-01-07 09:00"))}

    # A worker died after doing Berlin's work and before recording it: the run is picked up
    # and done again, and nobody hears twice.
    with app.app_context():
        row = db.session.scalars(select(PeriodicRun).where(PeriodicRun.job == "campaigns.automations",
                                                           PeriodicRun.scope == f"store:{bj}")
                                 .order_by(PeriodicRun.slot.desc()).limit(1)).one()
        row.outcome, row.finished_at = None, None
        db.session.commit()
        before = db.session.scalar(select(func.count()).select_from(OutboxEntry))
        run_periodic(row.id, "plugins.campaigns.jobs.run_store_automations", {"store_id": bj})
        assert db.session.get(PeriodicRun, row.id).outcome == "ok"
        assert db.session.scalar(select(func.count()).select_from(OutboxEntry)) == before
    assert greeted() == {"沪九", "柏九", "沪十一", "柏十"}


def test_a_care_time_in_quiet_hours_is_refused_with_the_field_named(make_app):
    from core.errors import DomainError
    from core.services.store_plugins import update_settings

    app = make_app()
    chain = build_chain(app)
    with app.app_context():
        store = db.session.get(Store, chain.ids["sh"])
        with pytest.raises(DomainError) as refused:
            update_settings(db.session, store, "campaigns", {"care_time": "07:30"}, actor="test")  # quiet till 08:00
        assert refused.value.fields == {"care_time": ["Choose a time outside quiet hours."]}
        assert update_settings(db.session, store, "campaigns", {"care_time": "08:00"}, actor="test")["care_time"] == "08:00"
