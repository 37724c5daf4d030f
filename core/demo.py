"""The demo chain: a coffee shop, a clothing store and a beauty salon (the seeds' own examples)
with a few hundred customers and months of sales and visits, written through the same services
the API uses so every enabled module reacts as it would in a real shop.

Plain functions; `storecrm demo` (core/cli.py) calls `demo_config`, `build_demo` and serves."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

DEMO_PASSWORD = "storecrm-demo"
SEED = 20240601
HISTORY_DAYS = 90


# --- configuration ---------------------------------------------------------------------------------

def demo_config(instance_path: str | os.PathLike, database_url: str | None = None) -> dict:
    """Config overrides for the demo: keys generated once into `instance/demo.env` (the demo is
    the one place that may make its own keys), a SQLite file of its own, in-process jobs."""
    from cryptography.fernet import Fernet

    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    env_file = instance / "demo.env"
    values: dict[str, str] = {}
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    if not values.get("STORECRM_DATA_KEY") or not values.get("STORECRM_SECRET_KEY"):
        values.setdefault("STORECRM_SECRET_KEY", secrets.token_urlsafe(32))
        values.setdefault("STORECRM_DATA_KEY", Fernet.generate_key().decode())
        env_file.write_text(
            "# Keys of the demo chain only (storecrm demo). Never reuse them for a real shop.\n"
            + "".join(f"{k}={v}\n" for k, v in values.items())
        )
        env_file.chmod(0o600)
    return {
        "DEMO": True,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": values["STORECRM_SECRET_KEY"],
        "DATA_KEY": values["STORECRM_DATA_KEY"],
        "DATABASE_URL": database_url or "sqlite:///" + str(instance / "demo.db"),
        "REDIS_URL": None,
    }


# --- what the chain looks like -----------------------------------------------------------------------

@dataclass
class StorePlan:
    code: str
    name: str
    kind: str
    address: str
    per_day: float  # average receipts on a plain weekday
    weekday_weights: tuple  # Monday first: the weekly rhythm
    hours: tuple  # opening hour range and a peak hour
    modules: tuple
    products: list = field(default_factory=list)
    preferences: list = field(default_factory=list)
    visit_purposes: list = field(default_factory=list)


STORES = [
    StorePlan("CAFE01", "拾光咖啡 · 静安店", "coffee", "上海市静安区南京西路 1266 号", 8.0,
              (1.0, 0.95, 1.0, 1.0, 1.1, 1.45, 1.35), (7, 21, 8),
              ("membership", "feedback", "campaigns", "staff_kpi"),
              [("CF-LATTE", "拿铁", "coffee", "house", "28.00"), ("CF-AMER", "美式咖啡", "coffee", "house", "22.00"),
               ("CF-FLAT", "澳白", "coffee", "house", "32.00"), ("CF-MATCHA", "抹茶拿铁", "tea", "house", "30.00"),
               ("CF-CAKE", "巧克力蛋糕", "cake", "house", "35.00"), ("CF-CROIS", "牛角包", "bakery", "house", "18.00"),
               ("CF-BEANS", "云南咖啡豆 500g", "beans", "普洱庄园", "128.00")],
              [{"咖啡": "热, 不加糖"}, {"咖啡": "冰, 燕麦奶"}, {"咖啡": "热, 半糖"}, {"座位": "喜欢靠窗"},
               {"甜点": "巧克力味"}, {"牛奶": "乳糖不耐, 换燕麦奶"}],
              ["买咖啡", "朋友聚会", "办公", "买咖啡豆"]),
    StorePlan("WEAR01", "木棉服饰 · 西湖店", "clothing", "杭州市西湖区文三路 478 号", 3.2,
              (0.7, 0.65, 0.7, 0.8, 1.0, 1.9, 1.7), (10, 22, 15),
              ("membership", "inventory", "staff_kpi", "campaigns"),
              [("WR-DRESS", "真丝连衣裙", "dress", "木棉", "699.00"), ("WR-SHIRT", "亚麻衬衫", "shirt", "木棉", "329.00"),
               ("WR-JEANS", "直筒牛仔裤", "trousers", "木棉", "399.00"), ("WR-SCARF", "羊绒围巾", "accessory", "木棉", "259.00"),
               ("WR-COAT", "双面呢大衣", "coat", "木棉", "1599.00"), ("WR-TEE", "纯棉 T 恤", "shirt", "木棉", "129.00")],
              [{"尺码": "M", "风格": "简约通勤"}, {"尺码": "S", "颜色": "浅色系"}, {"尺码": "L", "风格": "休闲"},
               {"尺码": "M", "面料": "喜欢真丝"}, {"尺码": "XL"}],
              ["试穿连衣裙", "看新品", "退换货咨询", "陪朋友逛"]),
    StorePlan("BEAU01", "花颜美容 · 锦江店", "beauty", "成都市锦江区春熙路 88 号", 2.6,
              (0.8, 0.8, 0.9, 0.9, 1.1, 1.6, 1.5), (10, 21, 14),
              ("membership", "feedback", "campaigns"),
              [("BT-FACIAL", "深层补水护理", "treatment", "花颜", "398.00"), ("BT-MASSAGE", "肩颈舒缓按摩", "treatment", "花颜", "268.00"),
               ("BT-SERUM", "玻尿酸精华", "skincare", "花颜", "459.00"), ("BT-MASK", "修护面膜 10 片", "skincare", "花颜", "199.00"),
               ("BT-NAIL", "美甲", "nail", "花颜", "158.00")],
              [{"肤质": "敏感肌", "香味": "无香"}, {"肤质": "干性", "力度": "轻"}, {"肤质": "油性"},
               {"预约": "周末下午", "技师": "小林"}, {"力度": "重"}],
              ["护理预约", "皮肤检测", "咨询产品", "美甲"]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 文 华 建华 玉兰 丹 萍 鑫 婷 雪 琳 晨 浩然 "
         "子涵 欣怡 梓萱 雨桐 思远 一鸣 佳怡 俊杰 嘉怡 宇轩 诗涵 晓东 海燕 志强 晓红 晓明 慧 颖 倩 健 斌 宁 悦 瑶 昊").split()
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "183",
                   "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "181", "189", "199")
OCCUPATIONS = ["教师", "工程师", "设计师", "护士", "会计", "销售", "学生", "自由职业", "医生", "公务员", "程序员", "律师"]
HOBBIES = ["跑步", "阅读", "烘焙", "瑜伽", "旅行", "摄影", "游泳", "追剧", "爬山", "音乐", "绘画", "羽毛球"]
TAGS = ["常客", "VIP", "学生", "附近上班", "生日月", "爱尝新", "团购"]
NOTES = ["喜欢聊天, 会推荐朋友来", "上次反馈出杯慢, 已致歉", "对新品很感兴趣", "周末常带孩子来", "希望有更多会员活动"]
PEOPLE = [
    # username, display name, role, store codes
    ("owner", "陈老板", "owner", ()),
    ("manager", "李店长", "manager", ("CAFE01",)),
    ("staff", "小王", "staff", ("CAFE01",)),
    ("xiaozhang", "小张", "staff", ("CAFE01",)),
    ("wear_manager", "周店长", "manager", ("WEAR01",)),
    ("xiaoli", "小李", "staff", ("WEAR01",)),
    ("beauty_manager", "林店长", "manager", ("BEAU01",)),
    ("xiaolin", "小林", "staff", ("BEAU01",)),
]
LOGINS = [("owner", "owner"), ("manager", "manager"), ("staff", "staff")]


# --- building ------------------------------------------------------------------------------------------

def build_demo(app, *, customers: int = 300, days: int = HISTORY_DAYS, today: date | None = None, echo=print) -> dict:
    """Create the demo chain in `app`'s database (migrations first). Running it again adds
    nothing but newly installed modules. Returns counts of what exists."""
    from core.extensions import db
    from core.migrate import upgrade
    from core.models import Customer, Sale, Store, Visit

    upgrade(app)
    with app.app_context():
        session = db.session
        exists = session.scalar(select(func.count(Store.id)).where(Store.code.in_([s.code for s in STORES])))
        rng = random.Random(SEED)
        if not exists:
            echo("building the demo chain: stores, staff, products...")
            stores = _stores_and_people(session)
            _enable_modules(session, stores, echo)
            echo(f"{customers} customers...")
            people = _customers(session, stores, max(customers - 1, 0), rng)  # + CHAIN_MEMBER
            echo(f"{days} days of sales and visits...")
            _history(session, stores, people, days, rng, today or datetime.now(ZoneInfo("Asia/Shanghai")).date())
            _earlier_purchases(session, stores, people, days, today or datetime.now(ZoneInfo("Asia/Shanghai")).date())
            _backdate_profiles(session, people, rng, days)
            _chain_member(session, stores, days, today or datetime.now(ZoneInfo("Asia/Shanghai")).date())
            _classify(session, echo)
        else:
            stores = {s.code: s for s in session.scalars(select(Store).where(Store.code.in_([s.code for s in STORES])))}
            _enable_modules(session, stores, echo)  # the demo grows as modules get installed
        _seed_plugins(session, stores, rng, today, echo)
        counts = {
            "stores": len(stores),
            "customers": session.scalar(select(func.count(Customer.id))),
            "sales": session.scalar(select(func.count(Sale.id))),
            "visits": session.scalar(select(func.count(Visit.id))),
        }
        db.session.remove()
    return counts


def _seed_plugins(session, stores: dict, rng: random.Random, today: date | None, echo) -> None:
    """Each enabled plugin adds its own believable data (`demo_seed`, idempotent)."""
    from flask import current_app

    from core.plugins import HookContext

    reg = current_app.extensions["storecrm.plugins"]
    for code in sorted(stores):
        store = stores[code]
        local_today = today or datetime.now(ZoneInfo(store.timezone)).date()
        names = reg.implementers("demo_seed", reg.enabled_in(store))
        if not names:
            continue
        ctx = HookContext(session=session, store=store, actor="demo", registry=reg)
        for name in names:
            reg.caller_for("demo_seed", name)(store=store, rng=rng, today=local_today, ctx=ctx.for_plugin(name))
        echo(f"  {code}: demo data for {', '.join(names)}")
    session.commit()


def _stores_and_people(session) -> dict:
    from core.models import Product, Store, User

    stores = {}
    for plan in STORES:
        store = Store(code=plan.code, name=plan.name, timezone="Asia/Shanghai", currency="CNY", address=plan.address)
        session.add(store)
        stores[plan.code] = store
        for sku, name, category, brand, price in plan.products:
            price = Decimal(price)
            session.add(Product(sku=sku, name=name, category=category, brand=brand, price=price,
                                cost=(price * Decimal("0.38")).quantize(Decimal("0.01")), attributes={"store_type": plan.kind}))
    for username, display, role, codes in PEOPLE:
        user = User(username=username, display_name=display, role=role, stores=[stores[c] for c in codes], active=True)
        user.set_password(DEMO_PASSWORD)
        session.add(user)
    session.commit()
    return stores


def _enable_modules(session, stores: dict, echo) -> None:
    from flask import current_app

    from core.services.store_plugins import enable_plugin

    installed = current_app.extensions["storecrm.plugins"].manifests
    for plan in STORES:
        for name in plan.modules:
            if name in installed:
                switched = enable_plugin(session, stores[plan.code], name, actor="demo")
                if switched:
                    echo(f"  {plan.code}: {', '.join(switched)} on")
    session.commit()


def _phone(rng: random.Random, used: set) -> str:
    import phonenumbers

    while True:
        raw = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if raw not in used and phonenumbers.is_valid_number(phonenumbers.parse(raw, "CN")):
            used.add(raw)
            return raw


@dataclass
class Person:
    id: int
    home: str
    weight: float  # how often they come back: a few regulars make most of the receipts


def _customers(session, stores: dict, count: int, rng: random.Random) -> dict[str, list[Person]]:
    from core.services.customers import add_activity, create_customer

    people: dict[str, list[Person]] = {code: [] for code in stores}
    used: set = set()
    plans = {p.code: p for p in STORES}
    shares = [("CAFE01", 0.5), ("WEAR01", 0.28), ("BEAU01", 0.22)]
    for i in range(count):
        code = rng.choices([c for c, _ in shares], [w for _, w in shares])[0]
        plan = plans[code]
        gender = "female" if rng.random() < (0.55 if plan.kind == "coffee" else 0.85) else "male"
        year = rng.randint(1965, 2004) if rng.random() < 0.7 else None  # many give only month and day
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        data = {
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "phone": _phone(rng, used),
            "gender": gender,
            "birthday": f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}",
            "occupation": rng.choice(OCCUPATIONS),
            "hobbies": rng.sample(HOBBIES, rng.randint(0, 3)),
            "preferences": dict(rng.choice(plan.preferences)),
            "tags": rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))),
            "source_channel": rng.choice(("walk_in", "walk_in", "walk_in", "social", "referral", "online_shop")),
            "code": f"M{i + 1:05d}",
            "consents": [{"channel": ch, "granted": True, "source": "paper_form", "proof": f"登记表 #{i + 1:04d}"}
                         for ch in ("sms", "wechat", "email") if rng.random() < {"sms": 0.62, "wechat": 0.45, "email": 0.2}[ch]],
        }
        if rng.random() < 0.3:
            data["email"] = f"demo{i + 1}@example.cn"
        customer = create_customer(session, stores[code], data, actor="demo")
        if rng.random() < 0.12:
            add_activity(session, customer, "note", rng.choice(NOTES), store=stores[code])
        weight = rng.choice((0.0, 0.3, 1.0, 1.0, 2.5, 2.5, 6.0, 14.0))  # none, once, light ... regulars
        people[code].append(Person(customer.id, code, weight))
        if i % 100 == 99:
            session.commit()
    session.commit()
    return people


def _history(session, stores: dict, people: dict, days: int, rng: random.Random, today: date) -> None:
    from core.models import User
    from core.services.sales import record_visit

    staff_by_store = {code: [u.username for u in session.scalars(select(User)) if any(s.code == code for s in u.stores)]
                      for code in stores}
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(timezone.utc)
    receipt = 0
    for plan in STORES:
        store = stores[plan.code]
        regulars = [p for p in people[plan.code] if p.weight > 0]
        weights = [p.weight for p in regulars]
        # A few customers of the other stores shop here too: one person across the chain.
        visitors = [p for code, ps in people.items() if code != plan.code for p in ps if p.weight >= 2.5][:15]
        open_h, close_h, peak = plan.hours
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            growth = 0.75 + 0.25 * (days - offset) / days  # the shop has been growing
            expected = plan.per_day * plan.weekday_weights[day.weekday()] * growth
            for _ in range(_poisson(rng, expected)):
                hour = min(close_h - 1, max(open_h, int(rng.gauss(peak, 2.5))))
                moment = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tz).astimezone(timezone.utc)
                if moment > now:
                    continue
                roll = rng.random()
                person = None
                if roll < 0.7 and regulars:
                    person = rng.choices(regulars, weights)[0]
                elif roll < 0.74 and visitors:
                    person = rng.choice(visitors)
                lines = [{"sku": sku, "quantity": 1 if plan.kind != "coffee" else rng.choice((1, 1, 1, 2))}
                         for sku, *_ in rng.sample(plan.products, rng.choice((1, 1, 2, 2, 3)))]
                receipt += 1
                data = {"external_id": f"demo-{plan.code}-{receipt:06d}", "occurred_at": moment, "lines": lines,
                        "staff": rng.choice(staff_by_store[plan.code]) if staff_by_store[plan.code] else None,
                        "customer": {"id": person.id} if person else None}
                _past_sale(session, store, data)
                if person and rng.random() < 0.25:
                    record_visit(session, store, {
                        "customer": {"id": person.id}, "occurred_at": moment - timedelta(minutes=rng.randint(5, 40)),
                        "purpose": rng.choice(plan.visit_purposes), "duration_minutes": rng.randint(5, 60),
                        "purchased": True, "staff": data["staff"],
                    }, actor="demo")
            # Visits without a purchase: people try things on, ask, book.
            for _ in range(_poisson(rng, expected * 0.15)):
                if not regulars:
                    break
                person = rng.choices(regulars, weights)[0]
                hour = min(close_h - 1, max(open_h, int(rng.gauss(peak, 3))))
                moment = datetime.combine(day, time(hour, rng.randrange(60)), tz).astimezone(timezone.utc)
                if moment <= now:
                    record_visit(session, store, {"customer": {"id": person.id}, "occurred_at": moment,
                                                  "purpose": rng.choice(plan.visit_purposes),
                                                  "duration_minutes": rng.randint(5, 45), "purchased": False}, actor="demo")
            session.commit()


def _earlier_purchases(session, stores: dict, people: dict, days: int, today: date) -> None:
    """The regulars were customers before the demo's history starts: one purchase each, 4 to
    11 months ago. Without it everyone's first purchase is within the last 90 days, and the
    lifecycle (new = first purchase in the last 90 days) shows no active customer at all."""
    rng = random.Random(SEED + 13)  # its own stream: the history above stays as it was
    tz = ZoneInfo("Asia/Shanghai")
    for plan in STORES:
        for n, person in enumerate(p for p in people[plan.code] if p.weight >= 1.0):
            day = today - timedelta(days=days + rng.randint(30, 240))
            moment = datetime.combine(day, time(rng.randint(plan.hours[0], plan.hours[1] - 1), rng.randrange(60)), tz)
            sku = rng.choice(plan.products)[0]
            _past_sale(session, stores[plan.code], {
                "external_id": f"demo-{plan.code}-before-{n:04d}", "occurred_at": moment.astimezone(timezone.utc),
                "lines": [{"sku": sku, "quantity": 1}], "customer": {"id": person.id}})
    session.commit()


# One member of the whole chain, to show it at a glance: a WEAR01 gold member (birthday
# today) who also drinks coffee at CAFE01, where she gave her phone at the counter.
CHAIN_MEMBER = {"name": "沈若溪", "phone": "13757100001", "code": "VIP-CHAIN-01", "gender": "female",
                "occupation": "设计师", "preferences": {"尺码": "S", "咖啡": "冰, 燕麦奶"}, "source_channel": "walk_in"}


def _chain_member(session, stores: dict, days: int, today: date) -> None:
    """CHAIN_MEMBER: gold at WEAR01 (¥5,000+ there), then served at CAFE01 by her phone (the
    first sale there links her to the store, audited); membership follows her."""
    from core.models import Customer
    from core.services.customers import create_customer, find_by_phone

    if find_by_phone(session, CHAIN_MEMBER["phone"]) is not None:
        return
    tz = ZoneInfo("Asia/Shanghai")

    def at(offset: int, hour: int):
        return datetime.combine(today - timedelta(days=min(offset, days)), time(hour, 20), tz).astimezone(timezone.utc)

    customer = create_customer(session, stores["WEAR01"], {
        **CHAIN_MEMBER, "birthday": f"1991-{today.month:02d}-{min(today.day, 28):02d}",
        "consents": [{"channel": "sms", "granted": True, "source": "paper_form", "proof": "登记表 #VIP-01"}]}, actor="demo")
    wear = [("WR-COAT", 2, 40), ("WR-DRESS", 2, 30), ("WR-JEANS", 1, 21), ("WR-TEE", 1, 21)]
    for n, (sku, quantity, offset) in enumerate(wear):
        _past_sale(session, stores["WEAR01"], {"external_id": f"demo-chain-wear-{n}", "occurred_at": at(offset, 15),
                                               "lines": [{"sku": sku, "quantity": quantity}], "staff": "xiaoli",
                                               "customer": {"id": customer.id}})
    for n, offset in enumerate((12, 6, 2)):
        # At the coffee shop she gives her phone: the chain's member, served here.
        _past_sale(session, stores["CAFE01"], {"external_id": f"demo-chain-cafe-{n}", "occurred_at": at(offset, 9),
                                               "lines": [{"sku": "CF-LATTE", "quantity": 1}], "staff": "staff",
                                               "customer": {"phone": CHAIN_MEMBER["phone"]}})
    session.flush()
    session.query(Customer).filter(Customer.id == customer.id).update(
        {"created_at": at(45, 14), "updated_at": at(45, 14)}, synchronize_session=False)
    session.commit()


def _backdate_profiles(session, people: dict, rng: random.Random, days: int) -> None:
    """Profiles were made today; date each to shortly before the person's first visit or
    purchase (or somewhere in the history), and their signup consents and notes with it."""
    from sqlalchemy import update

    from core.models import Activity, Consent, Customer, Sale, Visit

    first_sale = dict(session.execute(select(Sale.customer_id, func.min(Sale.occurred_at)).group_by(Sale.customer_id)).all())
    first_visit = dict(session.execute(select(Visit.customer_id, func.min(Visit.occurred_at)).group_by(Visit.customer_id)).all())
    now = datetime.now(timezone.utc)
    rows = []
    for person in (p for ps in people.values() for p in ps):
        firsts = [t for t in (first_sale.get(person.id), first_visit.get(person.id)) if t is not None]
        created = (min(firsts) - timedelta(minutes=rng.randint(1, 30))) if firsts else \
            now - timedelta(days=rng.randint(1, days), minutes=rng.randint(0, 600))
        rows.append({"id": person.id, "created_at": created, "updated_at": created})
    session.execute(update(Customer), rows)
    session.flush()
    created_of = select(Customer.created_at).where(Customer.id == Consent.customer_id).scalar_subquery()
    session.execute(update(Consent).values(at=created_of).execution_options(synchronize_session=False))
    noted = select(Customer.created_at).where(Customer.id == Activity.customer_id).scalar_subquery()
    session.execute(update(Activity).where(Activity.kind == "note", Activity.source == "core")
                    .values(occurred_at=noted).execution_options(synchronize_session=False))
    session.commit()


def _past_sale(session, store, data: dict):
    """What `record_sale` does for a till, minus the per-sale commit and the per-sale class
    update: the history is committed a day at a time and classified once at the end (the
    nightly recompute gives the same classes), which makes the demo many times faster."""
    from core import events
    from core.services.sales import build_sale

    sale = build_sale(session, store, data, actor="demo")
    session.flush()
    events.emit(session, store, "sale_recorded", sale, {"sale": sale}, actor="demo")
    return sale


def _classify(session, echo) -> None:
    import importlib.util

    if importlib.util.find_spec("core.classification.compute") is None:
        return
    from core.classification.compute import recompute_all

    echo("classifying customers...")
    recompute_all(session)
    session.commit()


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small daily means of a shop.
    import math

    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
