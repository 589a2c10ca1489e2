#!/usr/bin/env python3
"""The peers of the SPEC 8 benchmark doing costjob's whole job on the same day
(tests/bench.sh): DuckDB runs duckdb_job.sql, chDB (embedded ClickHouse)
chdb_job.sql, Polars the same plan in its lazy API. Each with 2 threads;
each prints the transactions it wrote.

    python3 tests/bench/peer.py duckdb|chdb|polars LOGS_DIR CUR_DIR DAY OUT_DIR
"""
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")  # read when polars is imported

# The exit status of an engine that stopped itself at its own memory limit:
# tests/bench.sh reports it as not fitting, as when it stops one at its budget.
OUT_OF_MEMORY = 99


def duckdb_job(logs, cur, day, out):
    import duckdb
    db = duckdb.connect(config={"threads": 2})
    sql = Path(__file__).with_name("duckdb_job.sql").read_text()
    for k, v in {"logs": logs, "cur": cur, "day": day, "out": out}.items():
        sql = sql.replace("{" + k + "}", v)
    db.execute(sql)
    return db.execute(f"SELECT count(*) FROM '{out}/transactions.parquet'").fetchone()[0], duckdb.__version__


def chdb_job(logs, cur, day, out):
    import chdb
    sql = Path(__file__).with_name("chdb_job.sql").read_text()
    for k, v in {"logs": logs, "cur": cur, "day": day, "out": out}.items():
        sql = sql.replace("{" + k + "}", v)
    try:
        chdb.query(sql)
    except RuntimeError as e:  # ClickHouse stops itself at 90% of the machine's memory
        if "MEMORY_LIMIT_EXCEEDED" not in str(e):
            raise
        print(f"chdb: {str(e).splitlines()[0][:160]}", file=sys.stderr)
        sys.exit(OUT_OF_MEMORY)
    n = chdb.query(f"SELECT count() FROM file('{out}/transactions.parquet', Parquet)", "CSV")
    return int(str(n).strip()), chdb.__version__


def polars_job(logs, cur, day, out):
    import datetime as dt
    import polars as pl
    start = dt.datetime.fromisoformat(day)
    end = start + dt.timedelta(days=1)
    event = pl.Struct({"transaction_id": pl.Utf8, "service": pl.Utf8, "route": pl.Utf8,
                       "duration_ms": pl.Int64, "usage": pl.Struct({"kms_requests": pl.Int64})})
    frames = []
    for f in sorted(Path(logs).rglob("*.gz")):
        lines = pl.read_csv(f, has_header=False, separator="\x1f", quote_char=None,
                            new_columns=["line"], schema_overrides={"line": pl.Utf8})
        frames.append(lines)
    lines = pl.concat(frames).lazy()
    parsed = (
        lines.with_columns(
            ts=pl.col("line").str.split_exact(" ", 1).struct.field("field_0")
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", strict=False),
            msg=pl.col("line").str.splitn(" ", 2).struct.field("field_1"))
        # Polars has no json_valid: keep whole objects (truncated lines, counted
        # as malformed by costjob, would fail json_decode).
        .filter((pl.col("ts") >= start) & (pl.col("ts") < end)
                & pl.col("msg").str.starts_with("{") & pl.col("msg").str.ends_with("}"))
        .with_columns(e=pl.col("msg").str.json_decode(event))
        .unnest("e")
        .filter(pl.col("transaction_id").is_not_null())
        .with_columns(kms=pl.col("usage").struct.field("kms_requests").fill_null(0),
                      duration_ms=pl.col("duration_ms").fill_null(0))
    )
    per_service = parsed.group_by("transaction_id", "service").agg(
        first_at=pl.col("ts").min(), last_at=pl.col("ts").max(), events=pl.len(),
        duration_ms=pl.col("duration_ms").sum(), kms=pl.col("kms").sum(),
        route=pl.col("route").sort_by("ts").first()).collect()
    transactions = per_service.lazy().group_by("transaction_id").agg(
        first_at=pl.col("first_at").min(), last_at=pl.col("last_at").max(), events=pl.col("events").sum(),
        duration_ms=pl.col("duration_ms").sum(), kms=pl.col("kms").sum(),
        route=pl.col("route").sort_by("first_at").first()).collect()
    cost = (pl.when(pl.col("line_item_line_item_type") == "SavingsPlanCoveredUsage")
            .then(pl.col("savings_plan_savings_plan_effective_cost"))
            .when(pl.col("line_item_line_item_type") == "DiscountedUsage").then(pl.col("reservation_effective_cost"))
            .when(pl.col("line_item_line_item_type") == "SavingsPlanNegation").then(0.0)
            .otherwise(pl.col("line_item_unblended_cost")))
    pools = (
        pl.scan_parquet(f"{cur}/**/*.parquet")
        .with_columns(pl.col("line_item_usage_start_date").dt.replace_time_zone(None))
        .filter((pl.col("line_item_usage_start_date") >= start) & (pl.col("line_item_usage_start_date") < end)
                & ~pl.col("line_item_line_item_type").is_in(["Tax", "Credit", "Refund"]))
        .group_by(product="line_item_product_code", service="resource_tags_aws_ecs_service_name")
        .agg(cost=cost.sum()).collect()
    )
    shared = pools.filter((pl.col("product") != "AmazonECS") | pl.col("service").is_null())
    by_service = pools.filter((pl.col("product") == "AmazonECS") & pl.col("service").is_not_null())
    units = pl.concat([
        shared.lazy().join(transactions.lazy(), how="cross").select(
            "transaction_id", "product", "service", "cost",
            u=pl.when(pl.col("product") == "AmazonRDS").then(pl.col("duration_ms"))
            .when(pl.col("product") == "awskms").then(pl.col("kms")).otherwise(pl.col("events"))),
        by_service.lazy().join(per_service.lazy(), on="service").select(
            "transaction_id", "product", "service", "cost", u=pl.col("duration_ms")),
    ]).filter(pl.col("u") > 0)
    shares = units.with_columns(
        share=pl.col("cost") * pl.col("u") / pl.col("u").sum().over("product", "service"))
    route = pl.col("route")
    rows = (
        shares.group_by("transaction_id").agg(
            cost_usd=pl.col("share").sum(),
            costs=pl.struct(product_code="product", service="service", cost_usd="share"))
        .join(transactions.lazy(), on="transaction_id")
        .with_columns(flow=pl.when(route.str.starts_with("POST /v1/recargas")).then(pl.lit("recarga"))
                      .when(route.str.starts_with("POST /v1/pagos")).then(pl.lit("pago"))
                      .when(route.str.starts_with("POST /v1/onboarding")).then(pl.lit("onboarding"))
                      .otherwise(pl.lit("unclassified")))
        .collect()
    )
    rows.write_parquet(f"{out}/transactions.parquet", compression="zstd")
    return rows.height, pl.__version__


if __name__ == "__main__":
    engine, logs, cur, day, out = sys.argv[1:6]
    os.makedirs(out, exist_ok=True)
    t = time.monotonic()
    n, version = {"duckdb": duckdb_job, "polars": polars_job, "chdb": chdb_job}[engine](logs, cur, day, out)
    print(f"{engine} {version} (2 threads): {n} transactions in {time.monotonic() - t:.2f} s")
