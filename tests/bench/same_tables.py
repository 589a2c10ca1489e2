"""Whether two output roots hold the same day: every table's rows equal (as
multisets), but the columns that differ between two runs of the same inputs
(`run_id`; the reconciliation's `started_at`/`finished_at`). For a change
that must not change behaviour: run the day with the binary before and after,
then compare.

  python3 tests/bench/same_tables.py ROOT_A ROOT_B DAY

Prints each table's row count and whether it is equal; exits 1 if any is not.
Uses DuckDB (the test command installs it).
"""
import sys

import duckdb

TABLES = ["transactions", "flow_costs", "flow_summary", "unallocated", "pools", "restatements", "reconciliation"]
VOLATILE = {"run_id", "started_at", "finished_at"}


def main(a, b, day):
    db = duckdb.connect()
    differ = 0
    for table in TABLES:
        files = [f"{root}/{table}/dt={day}/*.parquet" for root in (a, b)]
        columns = [r[0] for r in db.execute(f"DESCRIBE SELECT * FROM read_parquet('{files[0]}')").fetchall()]
        kept = ", ".join(f'"{c}"' for c in columns if c not in VOLATILE)
        rows = [db.execute(f"SELECT count(*) FROM read_parquet('{f}')").fetchone()[0] for f in files]
        only = [
            db.execute(
                f"SELECT count(*) FROM (SELECT {kept} FROM read_parquet('{x}') "
                f"EXCEPT ALL SELECT {kept} FROM read_parquet('{y}'))"
            ).fetchone()[0]
            for x, y in (files, files[::-1])
        ]
        same = rows[0] == rows[1] and only == [0, 0]
        differ += not same
        print(f"{table}: {rows[0]} and {rows[1]} rows, {'equal' if same else f'DIFFERENT ({only[0]} and {only[1]} rows unmatched)'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
