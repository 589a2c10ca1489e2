"""Checks every file in sql/: each statement parses in the Athena/Trino dialect
(sqlglot), and the finance views run, transpiled to DuckDB, on a day costjob
produced from the demo inputs, with results checked against the tables.

Usage: python3 tests/sql_check.py <costjob binary>
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import duckdb
import sqlglot

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIALECT = {"ddl.sql": "athena", "views.sql": "trino", "cur_query.sql": "athena", "logs_table.sql": "athena", "logs_query.sql": "athena"}
UNLOAD = re.compile(r"^UNLOAD\s*\((?P<select>.*)\)\s*TO\s*'s3://[^']+/'\s*WITH\s*\([^)]*\)$", re.S)
TABLES = ["transactions", "flow_costs", "flow_summary", "unallocated", "pools", "restatements", "reconciliation"]


def statements(path):
    text = "\n".join(l for l in path.read_text().splitlines() if not l.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def main():
    binary = sys.argv[1]
    checked = 0
    for path in sorted((ROOT / "sql").glob("*.sql")):
        dialect = DIALECT.get(path.name)
        if dialect is None:
            sys.exit(f"{path}: no dialect declared for this file in tests/sql_check.py")
        for stmt in statements(path):
            # sqlglot has no UNLOAD: the statement's shape is checked here and its
            # SELECT parsed strictly, as the Athena stand-in does.
            unload = UNLOAD.match(stmt)
            if path.name in ("cur_query.sql", "logs_query.sql") and not unload:
                sys.exit(f"{path}: not an UNLOAD (SELECT ...) TO 's3://.../' WITH (...)")
            sqlglot.parse_one(unload.group("select") if unload else stmt, read=dialect)
            checked += 1
    ddl_tables = {s.split("(")[0].split()[-1] for s in statements(ROOT / "sql/ddl.sql")}
    assert ddl_tables == set(TABLES), ddl_tables

    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [binary, "run", "--config", str(ROOT / "examples/costjob.toml"), "--date", "2026-11-23", "--output", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # The day again on another cost basis: a restatement (reasons cur, config).
        subprocess.run(
            [binary, "run", "--config", str(ROOT / "examples/costjob.toml"), "--date", "2026-11-23", "--output", out,
             "--cost-basis", "unblended"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # The same day again as the 24th, every table: each transaction on two
        # days of the month, as one that crosses midnight is.
        for t in TABLES:
            shutil.copytree(f"{out}/{t}/dt=2026-11-23", f"{out}/{t}/dt=2026-11-24")
        db = duckdb.connect()
        for t in TABLES:
            db.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{out}/{t}/*/*.parquet', hive_partitioning = true)")
        for stmt in statements(ROOT / "sql/views.sql"):
            db.execute(sqlglot.transpile(stmt, read="trino", write="duckdb")[0])
        daily = db.execute("SELECT count(*), sum(cost_usd) FROM v_daily_unit_cost").fetchone()
        summary = db.execute("SELECT count(*), sum(cost_usd) FROM flow_summary").fetchone()
        assert daily == summary, (daily, summary)
        monthly = db.execute(
            "SELECT sum(cost_usd), sum(transactions), sum(transaction_days) FROM v_monthly_unit_cost"
        ).fetchone()
        assert monthly[0] == summary[1], monthly
        one_day = db.execute("SELECT sum(transactions) FROM flow_summary WHERE dt = '2026-11-23'").fetchone()[0]
        assert monthly[1] == one_day and monthly[2] == 2 * one_day, (
            "a transaction on two days of a month counts once", monthly, one_day)
        top = db.execute("SELECT flow, product_code, rank_in_flow, share_of_flow FROM v_top_services_per_flow ORDER BY flow, rank_in_flow").fetchall()
        assert top and all(1 <= r[2] <= 10 for r in top), top
        allocated = db.execute("SELECT allocated_usd FROM reconciliation WHERE dt = '2026-11-23'").fetchone()[0]
        assert db.execute("SELECT sum(cost_usd) FROM flow_costs WHERE dt = '2026-11-23'").fetchone()[0] == allocated
        restated = db.execute(
            "SELECT reasons, previous_cost_usd, cost_usd, delta_usd FROM v_restatements"
            " WHERE flow = '(all flows)' AND day = DATE '2026-11-23'"
        ).fetchall()
        # The cost basis is a setting, and it moves every pool: config and cur.
        assert len(restated) == 1 and restated[0][0] == "cur,config", restated
        assert restated[0][1] + restated[0][3] == restated[0][2] == allocated, (restated, allocated)
        flows = db.execute(
            "SELECT sum(delta_usd) FROM v_restatements WHERE flow <> '(all flows)' AND day = DATE '2026-11-23'"
        ).fetchone()[0]
        assert flows == restated[0][3], (flows, restated)
        checked += 4
    print(f"sql: {checked} passed, 0 failed")


if __name__ == "__main__":
    main()
