"""Test fixtures on the local AWS stand-in (moto server): buckets, uploads,
the Glue tables of sql/ddl.sql, and reading a published day back.

Run by the integration tests (tests/it/s3.rs) with AWS_ENDPOINT_URL pointing at
a moto server on loopback; never against a real account.

  aws_fixture.py setup  OUT_BUCKET DATABASE ROOT_URL     buckets + Glue tables
  aws_fixture.py upload DIR s3://bucket/prefix           a directory, file by file
  aws_fixture.py firehose LOG_DIR s3://bucket/prefix/ DAY [delimited]  the logs as Firehose deliveries
  aws_fixture.py logs-table DATABASE TABLE s3://bucket/prefix/   the logs table of sql/logs_table.sql
  aws_fixture.py download DATABASE DAY DEST              each table's current partition
  aws_fixture.py partitions DATABASE DAY                 table -> location, as JSON
  aws_fixture.py list s3://bucket/prefix                 keys, one per line
  aws_fixture.py start-upload s3://bucket/key            a multipart upload left unfinished
  aws_fixture.py upload-plain DIR s3://bucket/prefix     a directory, gzip files decompressed
  aws_fixture.py delete s3://bucket/key                  one object
  aws_fixture.py cat s3://bucket/key                     one object's body, to stdout
  aws_fixture.py cur-table DATABASE TABLE LAYOUT SRC_DIR s3://bucket/prefix [DROP_COLUMN ...]
      SRC_DIR's CUR Parquet files as an Athena table: LAYOUT cur1 (year=/month=
      partitions, tag columns), cur2 (billing_period= partitions, tags in a
      resource_tags map) or flat; DROP_COLUMNs left out of the Glue schema
"""
import gzip
import json
import os
import pathlib
import re
import sys

import boto3

REPO = pathlib.Path(__file__).resolve().parents[2]


def client(name):
    assert os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"), "loopback only"
    return boto3.client(name, region_name="us-east-1")


def split(url):
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def ddl_tables():
    """(name, [(column, hive type)]) for each CREATE EXTERNAL TABLE of sql/ddl.sql."""
    text = (REPO / "sql" / "ddl.sql").read_text()
    for m in re.finditer(r"CREATE EXTERNAL TABLE IF NOT EXISTS (\w+) \((.*?)\n\)", text, re.S):
        columns = []
        for line in m.group(2).strip().splitlines():
            name, typ = line.strip().rstrip(",").split(None, 1)
            columns.append((name, typ))
        yield m.group(1), columns


def setup(bucket, database, root):
    s3 = client("s3")
    for b in {bucket, "logs", "cur", "athena-results"}:
        s3.create_bucket(Bucket=b)
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": database})
    for name, columns in ddl_tables():
        glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "PartitionKeys": [{"Name": "dt", "Type": "string"}],
                "StorageDescriptor": {
                    "Columns": [{"Name": c, "Type": t} for c, t in columns],
                    "Location": f"{root}/{name}/",
                    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    "SerdeInfo": {
                        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    },
                },
            },
        )


def upload(directory, url):
    s3 = client("s3")
    bucket, prefix = split(url)
    base = pathlib.Path(directory)
    for path in sorted(base.rglob("*")):
        if path.is_file():
            key = f"{prefix.rstrip('/')}/{path.relative_to(base)}".lstrip("/")
            s3.upload_file(str(path), bucket, key)


def firehose(log_dir, url, day, delimited=""):
    """The CloudWatch export lines as subscription records through Firehose:
    one object per log stream under the day's prefix, the last record of each
    re-delivered in a second object (at least once), and the events after
    23:00 buffered into an object under the next day's prefix. `delimited`:
    as the app-log-delivery module's stream writes them (each record
    decompressed and ended by a newline, every object gzip'ed, named .gz);
    otherwise records run together, some objects plain without an extension."""
    s3 = client("s3")
    bucket, prefix = split(url)
    next_day = {"2026-11-23": "2026-11-24"}[day]
    for n, path in enumerate(sorted(pathlib.Path(log_dir).rglob("*.gz"))):
        events = []
        for i, line in enumerate(gzip.decompress(path.read_bytes()).decode().splitlines()):
            ts, _, message = line.partition(" ")
            from datetime import datetime
            try:
                ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
            except ValueError:
                continue  # continuation lines have no envelope timestamp in Firehose either
            events.append({"id": f"{n:04d}{i:08d}", "timestamp": ms, "message": message})
        late = [e for e in events if e["timestamp"] % 86_400_000 >= 23 * 3_600_000]
        early = [e for e in events if e not in late]

        end = "\n" if delimited else ""

        def records(evs):
            out = ""
            for k in range(0, len(evs), 50):
                out += json.dumps({"messageType": "DATA_MESSAGE", "owner": "123456789012",
                                   "logGroup": "/ecs/costjob-demo", "logStream": path.parent.name,
                                   "subscriptionFilters": ["f"], "logEvents": evs[k:k + 50]}) + end
            return out

        control = json.dumps({"messageType": "CONTROL_MESSAGE", "logGroup": "", "logStream": "",
                              "logEvents": [{"id": "", "timestamp": 0, "message": "CWL CONTROL MESSAGE"}]})
        s3.put_object(Bucket=bucket, Key=f"{prefix}{day}/delivery-{n}.gz",
                      Body=gzip.compress((control + end + records(early)).encode()))
        s3.put_object(Bucket=bucket, Key=f"{prefix}{day}/redelivery-{n}.gz",
                      Body=gzip.compress(records(early[-50:]).encode()))
        if delimited:
            s3.put_object(Bucket=bucket, Key=f"{prefix}{next_day}/delivery-{n}.gz",
                          Body=gzip.compress(records(late).encode()))
        else:
            s3.put_object(Bucket=bucket, Key=f"{prefix}{next_day}/delivery-{n}",
                          Body=records(late).encode())


def logs_table(database, name, url):
    """The logs table of the Terraform athena module (sql/logs_table.sql) over
    url (s3://bucket/prefix/, a day under <prefix><yyyy-MM-dd>/)."""
    client("glue").create_table(DatabaseName=database, TableInput={
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "text",
            "projection.enabled": "true",
            "projection.day.type": "date",
            "projection.day.format": "yyyy-MM-dd",
            "projection.day.range": "2024-01-01,NOW",
            "projection.day.interval": "1",
            "projection.day.interval.unit": "DAYS",
            "storage.location.template": url + "${day}/",
        },
        "PartitionKeys": [{"Name": "day", "Type": "string"}],
        "StorageDescriptor": {
            "Location": url,
            "Columns": [{"Name": "line", "Type": "string"}],
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.RegexSerDe",
                          "Parameters": {"input.regex": "([\\s\\S]*)"}},
        },
    })


def partitions(database, day):
    glue = client("glue")
    found = {}
    for t in glue.get_tables(DatabaseName=database)["TableList"]:
        try:
            p = glue.get_partition(DatabaseName=database, TableName=t["Name"], PartitionValues=[day])
            found[t["Name"]] = p["Partition"]["StorageDescriptor"]["Location"]
        except glue.exceptions.EntityNotFoundException:
            pass
    return found


def download(database, day, dest):
    s3 = client("s3")
    for table, location in partitions(database, day).items():
        bucket, prefix = split(location)
        target = pathlib.Path(dest) / table / f"dt={day}"
        target.mkdir(parents=True, exist_ok=True)
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            s3.download_file(bucket, obj["Key"], str(target / obj["Key"].rsplit("/", 1)[1]))


def list_keys(url):
    s3 = client("s3")
    bucket, prefix = split(url)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            print(obj["Key"])


HIVE_TYPES = [
    (r"^VARCHAR$", "string"), (r"^DOUBLE$", "double"), (r"^FLOAT$", "float"),
    (r"^BIGINT$", "bigint"), (r"^INTEGER$", "int"), (r"^BOOLEAN$", "boolean"),
    (r"^DATE$", "date"), (r"^TIMESTAMP.*", "timestamp"),
    (r"^DECIMAL\((\d+),(\d+)\)$", r"decimal(\1,\2)"),
    (r"^MAP\(VARCHAR, VARCHAR\)$", "map<string,string>"),
]


def hive_type(duck):
    for pattern, hive in HIVE_TYPES:
        if re.match(pattern, duck):
            return re.sub(pattern, hive, duck)
    raise ValueError(f"no Hive type for {duck}")


def cur_table(database, name, layout, src, url, *drop):
    import duckdb
    import tempfile
    s3, glue = client("s3"), client("glue")
    bucket, prefix = split(url.rstrip("/") + "/")
    try:
        glue.create_database(DatabaseInput={"Name": database})
    except glue.exceptions.AlreadyExistsException:
        pass
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(pathlib.Path(src).glob("*.parquet")):
            rel = f"read_parquet('{path}')"
            first = db.execute(f"SELECT min(line_item_usage_start_date) FROM {rel}").fetchone()[0]
            if isinstance(first, str):  # exports that keep the time as ISO-8601 text
                import datetime
                first = datetime.datetime.fromisoformat(first.replace("Z", "+00:00"))
            columns = [c[0] for c in db.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
            select = f"SELECT * FROM {rel}"
            if layout == "cur2":
                tags = [c for c in columns if c.startswith("resource_tags_")]
                entries = ", ".join(
                    f"{{'key': '{c.removeprefix('resource_tags_')}', 'value': \"{c}\"}}" for c in tags
                )
                kept = ", ".join(f'"{c}"' for c in columns if c not in tags)
                select = (f"SELECT {kept}, map_from_entries(list_filter([{entries}], lambda e: e.value IS NOT NULL))"
                          f" AS resource_tags FROM {rel}")
            out = pathlib.Path(tmp) / path.name
            db.execute(f"COPY ({select}) TO '{out}' (FORMAT PARQUET)")
            if schema is None:
                schema = [(c[0], hive_type(c[1])) for c in db.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
                          if c[0] not in drop]
            part = {"cur1": f"year={first.year}/month={first.month}/",
                    "cur2": f"billing_period={first.year:04}-{first.month:02}/",
                    "flat": ""}[layout]
            s3.upload_file(str(out), bucket, f"{prefix}{part}{path.name}")
    keys = {"cur1": ["year", "month"], "cur2": ["billing_period"], "flat": []}[layout]
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
            "StorageDescriptor": {
                "Columns": [{"Name": c, "Type": t} for c, t in schema],
                "Location": f"s3://{bucket}/{prefix}",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            },
        },
    )


def upload_plain(directory, url):
    """A directory's files, gzip ones decompressed (plain objects, whose
    length only the listing states)."""
    s3 = client("s3")
    bucket, prefix = split(url)
    base = pathlib.Path(directory)
    for path in sorted(base.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            key = f"{prefix.rstrip('/')}/{path.relative_to(base)}".removesuffix(".gz").lstrip("/")
            s3.put_object(Bucket=bucket, Key=key, Body=body)


def delete(url):
    bucket, key = split(url)
    client("s3").delete_object(Bucket=bucket, Key=key)


def cat(url):
    bucket, key = split(url)
    sys.stdout.write(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def start_upload(url):
    bucket, key = split(url)
    client("s3").create_multipart_upload(Bucket=bucket, Key=key)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "partitions":
        print(json.dumps(partitions(*args)))
    elif command == "list":
        list_keys(*args)
    else:
        commands = {
            "setup": setup,
            "upload": upload,
            "firehose": firehose,
            "download": download,
            "start-upload": start_upload,
            "upload-plain": upload_plain,
            "delete": delete,
            "cat": cat,
            "cur-table": cur_table,
            "logs-table": logs_table,
        }
        commands[command](*args)
