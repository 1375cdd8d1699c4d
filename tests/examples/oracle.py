#!/usr/bin/env python3
"""Expected outputs of Eddy's example pipelines (assets/*.toml), computed without Eddy.

This is the independent check of the engine: it reads each example's event files and computes,
from the rules of docs/semantics.md and docs/time.md (not from Eddy's output), what every sink
must contain. It writes `tests/examples/<example>/<sink id>.jsonl`, one JSON value per line,
keyed items as `[key, value]`; integers stay integers and floats stay floats, as in the engine.
The pipelines' user functions are written out again here in Python, step by step, next to the
rule they follow.

    python3 tests/examples/oracle.py          # rewrite every expected file
    python3 tests/examples/oracle.py --check  # exit 1 if a file would change

The rules used (docs/semantics.md, docs/time.md#when-timers-fire, docs/file-format.md#csv-cells):
- Sources are merged k-way: each file read in its own order (never sorted); the next event is the
  head with the smallest time, ties going to the source listed first.
- Replay clock: clock := max(clock, event time); an older event is processed in place without
  moving the clock; `now()` is the clock.
- Timers: before an event is processed, the timers with due <= clock fire, in (due, step
  position, key) order; each fired timer is disarmed, `on_notify` runs, then `notify_at` is read
  again. A timer armed while they fire waits for a later event. Pending timers never fire at end
  of input.
- Finals (fold_final, count_final) emit once per key at end of input, in key order.
- CSV cells are typed: INT for -?[0-9]+, FLOAT for a number with '.', 'e' or 'E', bools, empty
  cell = null, else string; `[sources.types]` forces a column.
"""

import csv
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
EXPECTED = ROOT / "tests" / "examples"

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------------------------
# Values, time and sources
# ----------------------------------------------------------------------------------------------


def parse_time(s: str) -> int:
    """RFC 3339 → INT microseconds since the epoch (Eddy's `parse_time`)."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", s):
        raise ValueError(f"not RFC 3339: {s!r}")
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def mins(n: int) -> int:
    return n * 60 * 1_000_000


def secs(n: int) -> int:
    return n * 1_000_000


I64 = range(-(2**63), 2**63)


def csv_cell(text: str, forced: str | None):
    """One CSV cell, typed as Eddy types it (docs/file-format.md#csv-cells), or as
    `[sources.types]` forces it."""
    if forced == "string":
        return text
    if forced == "int":
        return int(text)
    if forced == "float":
        return float(text)
    if forced == "bool":
        return {"true": True, "false": False}[text]
    if text == "":
        return None
    if re.fullmatch(r"-?[0-9]+", text) and int(text) in I64:
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if any(c in text for c in ".eE"):
        try:
            x = float(text)
            if x == x and abs(x) != float("inf"):
                return x
        except ValueError:
            pass
    return text


def read_csv(name: str, types: dict[str, str] | None = None) -> list[dict]:
    types = types or {}
    with (ASSETS / name).open(encoding="utf-8", newline="") as f:
        return [
            {col: csv_cell(cell, types.get(col)) for col, cell in row.items()}
            for row in csv.DictReader(f)
        ]


def read_jsonl(name: str) -> list[dict]:
    with (ASSETS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def merge(*sources: list[dict], time_field: str = "ts"):
    """k-way merge by time; yields (source index, event). Ties go to the earlier source."""
    heads = [0] * len(sources)
    while True:
        best = None
        for i, events in enumerate(sources):
            if heads[i] < len(events):
                t = parse_time(events[heads[i]][time_field])
                if best is None or t < best[0]:  # strict: on a tie the first source wins
                    best = (t, i)
        if best is None:
            return
        t, i = best
        event = sources[i][heads[i]]
        heads[i] += 1
        yield i, t, event


class Clock:
    """The replay clock and the pending timers of one run."""

    def __init__(self):
        self.now = None
        self.timers = {}  # (step position, key) -> due

    def advance(self, t: int) -> None:
        self.now = t if self.now is None else max(self.now, t)

    def due_now(self):
        """D: the timers due at the current clock, in firing order (due, step position, key)."""
        due = [(d, pos, key) for (pos, key), d in self.timers.items() if d <= self.now]
        return sorted(due)

    def still_armed(self, pos: int, key: str, due: int) -> bool:
        return self.timers.get((pos, key)) == due

    def set(self, pos: int, key: str, due) -> None:
        """Arms (or re-arms) the timer of (step, key), or cancels it when `due` is None."""
        if due is None:
            self.timers.pop((pos, key), None)
        else:
            self.timers[(pos, key)] = due


# ----------------------------------------------------------------------------------------------
# sessions.toml: key_on(user_id) → stateful_flat_map(sessionise) → sink "sessions"
# ----------------------------------------------------------------------------------------------

SESSION_GAP = mins(30)


def sessions() -> dict[str, list]:
    clicks = read_csv("clicks.csv", {"user_id": "string"})
    state: dict[str, dict] = {}  # a key absent = state () (never seen, or discarded)
    out = []

    def new_session(e, t):
        return {"user": e["user_id"], "start": e["ts"], "end": e["ts"], "first": t, "last": t,
                "clicks": 1, "pages": [e["page"]]}

    def summary(s, ended_by):
        return {"user": s["user"], "start": s["start"], "end": s["end"], "clicks": s["clicks"],
                "pages": len(s["pages"]), "duration_s": (s["last"] - s["first"]) // secs(1),
                "ended_by": ended_by}

    for _, _, e in merge(clicks):
        key = e["user_id"]
        s = state.pop(key, None)
        t = parse_time(e["ts"])
        outs = []
        if s is None:
            s = new_session(e, t)
        elif t - s["last"] > SESSION_GAP:  # exceeds: exactly 30 min stays in the session
            outs.append(summary(s, "gap"))
            s = new_session(e, t)
        else:
            s["end"] = e["ts"]
            s["last"] = t
            s["clicks"] += 1
            if e["page"] not in s["pages"]:
                s["pages"].append(e["page"])
        if e["action"] == "logout":
            outs.append(summary(s, "logout"))
            s = None  # discard: the next click starts from ()
        if s is not None:
            state[key] = s
        out.extend([key, o] for o in outs)
    # stateful_flat_map has no end-of-input hook: sessions still open at the end emit nothing.
    return {"sessions": out}


# ----------------------------------------------------------------------------------------------
# user_stats.toml: filter(completed) ─┬─ key_on(user) → fold_final(stats) → sink "per_user"
#                                     └─ count_final(category)            → sink "per_category"
# ----------------------------------------------------------------------------------------------


def user_stats() -> dict[str, list]:
    purchases = read_jsonl("purchases.jsonl")
    stats: dict[str, dict] = {}
    per_category: dict[str, int] = {}
    for _, _, p in merge(purchases):
        if p["status"] != "completed":
            continue
        # fold_final: builder() when a key first appears, then folder(acc, v).
        acc = stats.setdefault(p["user"], {"count": 0, "sum": 0, "min": None, "max": None,
                                           "mean": None})
        a = p["amount_cents"]
        acc["count"] += 1
        acc["sum"] += a
        if acc["min"] is None or a < acc["min"]:
            acc["min"] = a
        if acc["max"] is None or a > acc["max"]:
            acc["max"] = a
        acc["mean"] = float(acc["sum"]) / float(acc["count"])
        # count_final on the unkeyed stream, key = the category field.
        per_category[p["category"]] = per_category.get(p["category"], 0) + 1
    return {
        "per_user": [[k, stats[k]] for k in sorted(stats, key=lambda k: k.encode())],
        "per_category": [[k, per_category[k]] for k in sorted(per_category,
                                                             key=lambda k: k.encode())],
    }


# ----------------------------------------------------------------------------------------------
# orders_join.toml: users (csv) → key_on(user_id) ─┐
#                   orders (jsonl) → key_on(user_id) ┴ join(last, running)
#                   → filter_value(row made by an order) → map_value(enrich) → sink "enriched"
# ----------------------------------------------------------------------------------------------


def orders_join() -> dict[str, list]:
    users = read_csv("users.csv", {"user_id": "string"})
    orders = read_jsonl("orders.jsonl")
    sides: dict[str, list] = {}  # key -> [user side, order side]; None = no value yet
    out = []
    for side, _, e in merge(users, orders):
        key = e["user_id"]
        remembered = sides.setdefault(key, [None, None])
        remembered[side] = e  # insert_mode = last
        row = list(remembered)  # emit_mode = running: one row after every item, state kept
        # filter_value: keep the rows an order made (the order is newer than the profile).
        profile, order = row
        if order is None:
            continue
        if profile is not None and not parse_time(order["ts"]) > parse_time(profile["ts"]):
            continue
        # map_value: the enriched order.
        out.append([key, {
            "order_id": order["order_id"],
            "ts": order["ts"],
            "amount_cents": order["amount_cents"],
            "items": order["items"],
            "name": None if profile is None else profile["name"],
            "country": None if profile is None else profile["country"],
            "tier": None if profile is None else profile["tier"],
        }])
    return {"enriched": out}


# ----------------------------------------------------------------------------------------------
# sliding_window.toml: key_on(sensor) → map_value(vehicles) → stateful window_sum (60 s)
#                      → sink "last_minute"
# ----------------------------------------------------------------------------------------------

WINDOW = secs(60)


def sliding_window() -> dict[str, list]:
    readings = read_jsonl("readings.jsonl")
    step_pos = 2  # key_on = 0, map_value = 1, stateful = 2 (only one timer step anyway)
    clock = Clock()
    logics: dict[str, list] = {}  # sensor -> items [(time, value)]
    out = []

    def total(items):
        return sum(v for _, v in items)

    def expire(items):
        """Drops the items with time <= now - WINDOW; returns whether any went."""
        keep = [(t, v) for t, v in items if t > clock.now - WINDOW]
        dropped = len(keep) != len(items)
        items[:] = keep
        return dropped

    def notify_at(items):
        return items[0][0] + WINDOW if items else None

    for _, t, e in merge(readings):
        clock.advance(t)
        for due, pos, key in clock.due_now():
            if not clock.still_armed(pos, key, due):
                continue
            clock.set(pos, key, None)  # disarmed, then on_notify
            items = logics[key]
            if expire(items):
                out.append([key, total(items)])
            clock.set(pos, key, notify_at(items))  # RETAIN, notify_at read again
        key = e["sensor"]
        items = logics.setdefault(key, [])  # builder(()) → no items
        items.append((clock.now, e["vehicles"]))  # now(), not the event's own ts
        expire(items)
        out.append([key, total(items)])
        clock.set(step_pos, key, notify_at(items))
    # No on_eof: the windows still open at the end emit nothing, and pending timers never fire.
    return {"last_minute": out}


# ----------------------------------------------------------------------------------------------

EXAMPLES = {
    "sessions": sessions,
    "user_stats": user_stats,
    "orders_join": orders_join,
    "sliding_window": sliding_window,
}


def to_lines(items: list) -> str:
    for item in items:
        check_types(item)
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in items)


def check_types(v) -> None:
    """Only JSON-able values, and no float that is not finite."""
    if isinstance(v, float):
        assert v == v and abs(v) != float("inf"), v
    elif isinstance(v, list):
        for x in v:
            check_types(x)
    elif isinstance(v, dict):
        for x in v.values():
            check_types(x)
    else:
        assert v is None or isinstance(v, (bool, int, str)), v


def main() -> int:
    check = "--check" in sys.argv[1:]
    changed = []
    for name, compute in EXAMPLES.items():
        folder = EXPECTED / name
        folder.mkdir(parents=True, exist_ok=True)
        sinks = compute()
        for stale in folder.glob("*.jsonl"):
            if stale.stem not in sinks:
                changed.append(stale)
                if not check:
                    stale.unlink()
        for sink, items in sinks.items():
            path = folder / f"{sink}.jsonl"
            text = to_lines(items)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                changed.append(path)
                if not check:
                    path.write_text(text, encoding="utf-8")
            print(f"{name}/{sink}: {len(items)} items", file=sys.stderr)
    if check and changed:
        for path in changed:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
