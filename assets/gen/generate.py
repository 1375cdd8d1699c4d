#!/usr/bin/env python3
"""Regenerates the event files of Eddy's example pipelines (assets/*.csv, assets/*.jsonl).

Deterministic: every file comes from its own seeded `random.Random`, so running this again
rewrites the same bytes. Run it from anywhere:

    python3 assets/gen/generate.py

Every event has a `ts` field, RFC 3339 in UTC. Within a file, and across the two sources of
`orders_join`, no two events share a `ts` (the merge order never depends on a tie), except where
a comment below says a coincidence is intended. After regenerating, recompute the expected
outputs with `python3 tests/examples/oracle.py`.
"""

import csv
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent


def rfc3339(t: datetime, millis: bool = False) -> str:
    """`2024-03-04T09:15:02Z`, or with `.250` milliseconds when asked."""
    if millis:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# ---------------------------------------------------------------------------------------------
# sessions: clicks.csv — ts,user_id,page,action
# ---------------------------------------------------------------------------------------------

PAGES = (
    ["/", "/search", "/cart", "/checkout", "/account", "/help"]
    + [f"/products/{n}" for n in (101, 117, 230, 245, 312, 318, 404, 512, 577, 689)]
    + [f"/category/{c}" for c in ("shoes", "outdoor", "kitchen", "books")]
)


def gen_clicks() -> None:
    rng = random.Random(1001)
    day = datetime(2024, 3, 4, 7, 0, 0, tzinfo=timezone.utc)
    users = [str(1001 + i) for i in range(8)]
    rows = []
    for u_index, user in enumerate(users):
        # Every time of user number i is i seconds past a multiple of 8 s (all gaps are multiples
        # of 8 s), so two users never click at the same second: no ties in the file.
        t = day + timedelta(seconds=8 * rng.randrange(0, 450) + u_index)
        n_sessions = rng.randint(2, 5)
        for s in range(n_sessions):
            n_clicks = rng.randint(3, 14)
            page = "/"
            for c in range(n_clicks):
                last = c == n_clicks - 1
                if last and rng.random() < 0.6:
                    action = "logout"
                elif page.startswith("/products/") and rng.random() < 0.3:
                    action = "add_to_cart"
                else:
                    action = "view"
                rows.append({"ts": rfc3339(t), "user_id": user, "page": page, "action": action})
                if last:
                    break
                # The next click of the same session: mostly quick, sometimes a long read
                # (20 to 29 min, still the same session), and for user 1003 once exactly 30 min
                # (a gap must *exceed* 30 min to close a session: this one does not).
                r = rng.random()
                if user == "1003" and s == 0 and c == 1:
                    gap = 30 * 60
                elif r < 0.08:
                    gap = rng.randrange(20 * 60, 29 * 60)
                else:
                    gap = rng.randrange(5, 12 * 60)
                t += timedelta(seconds=8 * max(1, gap // 8))
                page = rng.choice(PAGES)
            # Between sessions: 31 min to 3 h of silence.
            t += timedelta(seconds=8 * (rng.randrange(31 * 60, 3 * 3600) // 8) + 8)
    rows.sort(key=lambda r: r["ts"])
    assert len({r["ts"] for r in rows}) == len(rows), "clicks: duplicate ts"
    write_csv(ASSETS / "clicks.csv", ["ts", "user_id", "page", "action"], rows)


# ---------------------------------------------------------------------------------------------
# user_stats: purchases.jsonl — ts, order_id, user, category, amount_cents, status[, coupon]
# ---------------------------------------------------------------------------------------------

CATEGORIES = {
    # category: (min cents, max cents, weight)
    "books": (499, 4_999, 5),
    "grocery": (150, 8_900, 8),
    "electronics": (1_999, 129_900, 2),
    "clothing": (999, 14_900, 4),
    "garden": (350, 24_900, 2),
    "toys": (799, 6_999, 3),
}


def gen_purchases() -> None:
    rng = random.Random(2002)
    start = datetime(2024, 5, 6, 0, 0, 0, tzinfo=timezone.utc)
    week = 7 * 24 * 3600
    users = [f"u{n:02d}" for n in range(1, 15)]
    # Heavy buyers and light ones.
    weights = [rng.choice([1, 2, 3, 6, 10]) for _ in users]
    seconds = sorted(rng.sample(range(week), 330))
    cats = list(CATEGORIES)
    cat_weights = [CATEGORIES[c][2] for c in cats]
    rows = []
    for n, sec in enumerate(seconds):
        user = rng.choices(users, weights)[0]
        if n == 40:
            user = "u15"  # a one-time buyer: min == max == mean
        if n in (77, 203):
            user = "u16"  # two orders, both cancelled: no statistics row at all
        category = rng.choices(cats, cat_weights)[0]
        lo, hi = CATEGORIES[category][:2]
        amount = rng.randrange(lo, hi)
        amount -= amount % 100 - 99 if rng.random() < 0.6 else 0  # most prices end in .99
        status = "cancelled" if (user == "u16" or rng.random() < 0.08) else "completed"
        row = {
            "ts": rfc3339(start + timedelta(seconds=sec)),
            "order_id": f"P-{50000 + n}",
            "user": user,
            "category": category,
            "amount_cents": amount,
            "status": status,
        }
        if rng.random() < 0.15:
            row["coupon"] = rng.choice(["SPRING10", "WELCOME5", "FREESHIP"])
        rows.append(row)
    write_jsonl(ASSETS / "purchases.jsonl", rows)


# ---------------------------------------------------------------------------------------------
# orders_join: users.csv (ts,user_id,name,country,tier) + orders.jsonl
# ---------------------------------------------------------------------------------------------

FIRST = ["Ana", "Bruno", "Chloé", "Dmitri", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jia",
         "Kofi", "Lena", "Mateo", "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tomás"]
LAST = ["Silva", "Okafor", "Novak", "Tanaka", "Müller", "Haddad", "Kowalski", "Lindqvist",
        "Moreau", "Patel", "Ruiz", "Santos", "Yilmaz", "Zhang"]
COUNTRIES = ["PT", "DE", "FR", "NG", "JP", "SE", "BR", "IN", "PL", "US"]


def gen_orders_join() -> None:
    rng = random.Random(3003)
    start = datetime(2024, 6, 1, 8, 0, 0, tzinfo=timezone.utc)
    span = 3 * 24 * 3600
    used: set[int] = set()  # seconds already taken, across both files: no ts is shared

    def free(sec: int) -> int:
        while sec in used:
            sec += 1
        used.add(sec)
        return sec

    users = []
    user_rows = []
    for i in range(40):
        uid = str(2001 + i)
        signup = free(rng.randrange(span // 9))  # most sign-ups in the first hours
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        country = rng.choice(COUNTRIES)
        tier = rng.choices(["basic", "plus", "gold"], [6, 3, 1])[0]
        users.append(uid)
        profile = {"user_id": uid, "name": name, "country": country, "tier": tier}
        user_rows.append((signup, profile))
        # Profile changes later on: tier upgrades, moves, a changed name.
        when = signup
        for _ in range(rng.choices([0, 1, 2], [5, 3, 1])[0]):
            when = free(rng.randrange(when + 1, span))
            profile = dict(profile)
            change = rng.choice(["tier", "tier", "country", "name"])
            if change == "tier":
                profile["tier"] = {"basic": "plus", "plus": "gold", "gold": "basic"}[profile["tier"]]
            elif change == "country":
                profile["country"] = rng.choice(COUNTRIES)
            else:
                profile["name"] = f"{profile['name'].split()[0]} {rng.choice(LAST)}"
            user_rows.append((when, profile))
    user_rows.sort(key=lambda r: r[0])

    orders = []
    for _ in range(300):
        sec = free(rng.randrange(span))
        if rng.random() < 0.05:
            uid = str(2100 + rng.randrange(5))  # a user the profile feed never mentions
        else:
            # Some orders come before the user's first profile row (the feed lags): they are
            # kept and join to an unknown profile.
            uid = rng.choice(users)
        orders.append((sec, uid))
    orders.sort()
    rows_u = [{"ts": rfc3339(start + timedelta(seconds=sec)), **row} for sec, row in user_rows]
    rows_o = [
        {
            "ts": rfc3339(start + timedelta(seconds=sec)),
            "order_id": f"O-{70000 + n}",
            "user_id": uid,
            "amount_cents": rng.randrange(500, 40_000),
            "items": rng.choices([1, 2, 3, 4, 6], [8, 5, 3, 2, 1])[0],
        }
        for n, (sec, uid) in enumerate(orders)
    ]
    write_csv(ASSETS / "users.csv", ["ts", "user_id", "name", "country", "tier"], rows_u)
    write_jsonl(ASSETS / "orders.jsonl", rows_o)


# ---------------------------------------------------------------------------------------------
# sliding_window: readings.jsonl — ts (milliseconds), sensor, vehicles
# ---------------------------------------------------------------------------------------------


def gen_readings() -> None:
    rng = random.Random(4004)
    start = datetime(2024, 9, 2, 7, 30, 0, tzinfo=timezone.utc)
    end_ms = 45 * 60 * 1000
    sensors = ["gate-north", "gate-south", "ramp-a", "ramp-b", "bridge"]
    events = []  # (ms, sensor, vehicles)
    for sensor in sensors:
        ms = rng.randrange(0, 20_000)
        busy = rng.uniform(0.6, 1.6)
        outages = 0
        while ms < end_ms:
            events.append((ms, sensor, max(0, round(rng.gauss(9 * busy, 4)))))
            if outages < 2 and rng.random() < 0.02:
                outages += 1
                ms += rng.randrange(90_000, 360_000)  # the counter was offline for a while
                if sensor == "ramp-a" and outages == 1:
                    # Intended coincidence: after its outage, ramp-a reports exactly 60 s after its
                    # first reading, i.e. exactly when that reading's window timer is due. The
                    # timer fires first (due <= clock), then the reading is counted.
                    events.append((ms, sensor, rng.randrange(3, 15)))
                    ms += 60_000
            else:
                ms += rng.randrange(12_000, 45_000)
    events.sort()
    seen = set()
    for ms, _, _ in events:
        assert ms not in seen, "readings: duplicate ts"
        seen.add(ms)
    rows = [
        {"ts": rfc3339(start + timedelta(milliseconds=ms), millis=True), "sensor": s, "vehicles": v}
        for ms, s, v in events
    ]
    # A few readings arrive late (a flaky uplink): each is swapped with the row after it, so it is
    # older than the clock when it is read and is counted at the clock's time, not its own.
    for i in (57, 140, 201, 333):
        if rows[i]["sensor"] != rows[i + 1]["sensor"]:
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
    write_jsonl(ASSETS / "readings.jsonl", rows)


if __name__ == "__main__":
    gen_clicks()
    gen_purchases()
    gen_orders_join()
    gen_readings()
