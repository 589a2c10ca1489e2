#!/usr/bin/env python3
"""An independent reference for SPEC 12.1 on the 2018 workshop export: each
row's cost (unblended, amortized) rounded once to 1e-10 USD, its usage period
(an end one second before a whole hour is that hour), and its cost
apportioned over the UTC days the period overlaps by whole seconds, the
leftover units to the largest remainders (ties: the earlier day), the sign
last. Prints the days asked for, and checks that every day of October to
December 2018 sums to the three files' total.

    python3 apportion.py 2018-11-01 2018-11-15     (from tests/data/real-cur; needs duckdb)
"""
import datetime as dt
import sys
from collections import defaultdict
from decimal import Decimal, ROUND_HALF_EVEN

import duckdb

Q = Decimal("1e-10")


def units(*terms):
    total = sum((Decimal(repr(float(t))) for t in terms if t is not None), Decimal(0))
    return int((total.quantize(Q, rounding=ROUND_HALF_EVEN) / Q).to_integral_value())


def cost(row, basis):
    kind = row["line_item_line_item_type"]
    if basis == "amortized" and kind == "DiscountedUsage":
        return units(row["reservation_effective_cost"])
    if basis == "amortized" and kind == "RIFee":
        return units(row["reservation_unused_amortized_upfront_fee_for_billing_period"],
                     row["reservation_unused_recurring_fee"])
    return units(row["line_item_unblended_cost"])


def shares(amount, start, end):
    """{day: share} for a row of `amount` units over [start, end)."""
    if end is not None and (end + dt.timedelta(seconds=1)).time().replace(hour=0) == dt.time(0):
        end += dt.timedelta(seconds=1)
    if end is None or end <= start:
        return {start.date(): amount}
    total = int((end - start).total_seconds())
    days, day = [], start.date()
    while dt.datetime.combine(day, dt.time()) < end:
        lo = max(start, dt.datetime.combine(day, dt.time()))
        hi = min(end, dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
        days.append((day, int((hi - lo).total_seconds())))
        day += dt.timedelta(days=1)
    magnitude = abs(amount)
    split = [(d, magnitude * s // total, magnitude * s % total) for d, s in days]
    leftover = magnitude - sum(f for _, f, _ in split)
    order = sorted(range(len(split)), key=lambda k: (-split[k][2], k))
    extra = set(order[:leftover])
    sign = -1 if amount < 0 else 1
    return {d: sign * (f + (k in extra)) for k, (d, f, _) in enumerate(split)}


def main(*days):
    con = duckdb.connect()
    rel = con.execute(
        "SELECT * FROM read_parquet('wal-workshop-cur-2018/*.parquet', union_by_name = true)")
    names = [c[0] for c in rel.description]
    rows = [dict(zip(names, r)) for r in rel.fetchall()]
    for basis in ("unblended", "amortized"):
        per_day, whole = defaultdict(int), 0
        rows_of, ri_fee = defaultdict(int), defaultdict(int)
        for row in rows:
            amount = cost(row, basis)
            whole += amount
            start = row["line_item_usage_start_date"].replace(tzinfo=None)
            end = row["line_item_usage_end_date"]
            end = end.replace(tzinfo=None) if end is not None else None
            for d, share in shares(amount, start, end).items():
                per_day[d] += share
                rows_of[d] += 1
                if row["line_item_line_item_type"] == "RIFee":
                    ri_fee[d] += share
        quarter = sum(v for d, v in per_day.items() if dt.date(2018, 10, 1) <= d <= dt.date(2018, 12, 31))
        assert quarter == whole, (basis, quarter, whole)
        fmt = lambda u: f"{'-' if u < 0 else ''}{abs(u) // 10**10}.{abs(u) % 10**10:010d}"
        print(f"{basis}: October-December {fmt(quarter)} = the files' total")
        for d in days:
            day = dt.date.fromisoformat(d)
            print(f"{basis} {d}: {fmt(per_day[day])} ({rows_of[day]} rows; RIFee {fmt(ri_fee[day])})")


if __name__ == "__main__":
    main(*sys.argv[1:])
