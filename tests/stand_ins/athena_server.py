"""A local Athena stand-in that really runs the SQL, for costjob's tests.

A loopback HTTP server speaking the subset of the Athena JSON API costjob uses
(StartQueryExecution, GetQueryExecution, StopQueryExecution, GetQueryResults).
moto's Athena runs no SQL, so this one does:

- the query must be an UNLOAD; its SELECT is parsed with sqlglot in the athena
  dialect (a statement Athena would not parse fails the query, with Athena's
  error shape: FAILED, category USER);
- the table is resolved through Glue and its files through S3 on the moto
  server given by --moto (the same endpoint the binary uses for S3 and Glue);
- the SELECT is transpiled to DuckDB and run over the table's files with Hive
  partitions (strings, as Athena's partition keys), in UTC;
- the result is written as ZSTD Parquet under the UNLOAD prefix in moto's S3,
  which must be empty (HIVE_PATH_ALREADY_EXISTS otherwise), as Athena writes
  it: several files (workers write in parallel), each named
  `<engine query id>_<uuid>` with no extension; the data manifest
  (`<id>-manifest.csv`, one s3:// URL a line) and `<id>.metadata` go to the
  query's results location, and `Statistics.DataManifestLocation` names the
  manifest;
- states go QUEUED -> RUNNING -> SUCCEEDED with DataScannedInBytes.

Faults on request: --throttle N (the first N API calls answer
TooManyRequestsException), --fail "MESSAGE" (every query FAILED, USER), --hang
(queries stay RUNNING until stopped). GET /_calls lists the operations called.

  python3 athena_server.py --port P --moto http://127.0.0.1:M [--throttle N] [--fail MSG] [--hang]
"""
import argparse
import gzip
import json
import os
import re
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import duckdb
import sqlglot
import sqlglot.expressions as exp

UNLOAD = re.compile(
    r"^\s*UNLOAD\s*\((?P<select>.*)\)\s*TO\s*'(?P<to>s3://[^']*)'\s*WITH\s*\((?P<with>[^)]*)\)\s*$",
    re.S | re.I,
)

# Files an UNLOAD writes (at most; one per row when there are fewer rows).
UNLOAD_FILES = 3

queries = {}
tokens = {}
calls = []
lock = threading.Lock()
options = None


def aws(name):
    return boto3.client(
        name,
        region_name="us-east-1",
        endpoint_url=options.moto,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def split(url):
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def fail(query, message, category=2, error_type=1100):
    query["Status"].update(
        State="FAILED",
        StateChangeReason=message,
        CompletionDateTime=time.time(),
        AthenaError={"ErrorCategory": category, "ErrorType": error_type,
                     "Retryable": False, "ErrorMessage": message},
    )


def is_text(table):
    """A table of text lines (the logs table of sql/logs_table.sql), not Parquet."""
    sd = table["StorageDescriptor"]
    return "TextInputFormat" in sd.get("InputFormat", "") or "RegexSerDe" in sd.get("SerdeInfo", {}).get(
        "SerializationLibrary", "")


def parquet_table(db, s3, table, database, name, tmp):
    """The table's Parquet files as a view with Hive partitions; the bytes scanned."""
    src_bucket, src_key = split(table["StorageDescriptor"]["Location"].rstrip("/") + "/")
    scanned = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=src_bucket, Prefix=src_key):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(src_key):]
            # Athena reads every object of the location but hidden ones, whatever its name.
            if relative.endswith("/") or any(p[:1] in "._" for p in relative.split("/")):
                continue
            target = os.path.join(tmp, "table", relative + ("" if relative.endswith(".parquet") else ".parquet"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            s3.download_file(src_bucket, obj["Key"], target)
            scanned += obj["Size"]
    partitioned = bool(table.get("PartitionKeys"))
    db.execute(
        f"""CREATE VIEW "{database}"."{name}" AS SELECT * FROM read_parquet(
              '{tmp}/table/**/*.parquet', hive_partitioning = {str(partitioned).lower()},
              hive_types_autocast = false, union_by_name = true)"""
    )
    return scanned


def text_table(db, s3, table, database, name, select, tmp):
    """A text table as Athena reads it: every object under the partitions the
    query names (partition projection: `storage.location.template`), hidden
    names skipped, gzip'ed only when the name ends in `.gz` (Athena goes by
    the name, not the bytes), split into lines at \\n (a \\r before it
    dropped, a UTF-8 byte-order mark at the start dropped), each line whole
    in the table's one column, with "$path" and the partition key. The bytes
    scanned are the objects' sizes."""
    keys = [k["Name"] for k in table.get("PartitionKeys", [])]
    template = table.get("Parameters", {}).get("storage.location.template")
    location = table["StorageDescriptor"]["Location"].rstrip("/") + "/"
    column = table["StorageDescriptor"]["Columns"][0]["Name"]
    wanted = None
    if keys:
        assert template and len(keys) == 1, "the stand-in projects one partition key through a template"
        wanted = set()
        for node in select.find_all(exp.In, exp.EQ):
            this = node.this if isinstance(node, exp.In) else node.left
            if isinstance(this, exp.Column) and this.name == keys[0]:
                values = node.expressions if isinstance(node, exp.In) else [node.right]
                wanted |= {v.name for v in values if isinstance(v, exp.Literal)}
        prefix = template.split("${")[0]
        pattern = re.compile(re.escape(template).replace(re.escape("${" + keys[0] + "}"), "(?P<part>[^/]+)") + "(?P<rest>.*)")
    else:
        prefix, pattern = location, re.compile(re.escape(location) + "(?P<rest>.*)")
    bucket, key_prefix = split(prefix)
    rows = os.path.join(tmp, "lines.json")
    scanned = 0
    with open(rows, "w") as out:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                url = f"s3://{bucket}/{obj['Key']}"
                m = pattern.fullmatch(url)
                if not m or m.group("rest").endswith("/"):
                    continue
                if any(p[:1] in "._" for p in m.group("rest").split("/")):
                    continue
                part = m.groupdict().get("part")
                if wanted is not None and part not in wanted:
                    continue
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                scanned += obj["Size"]
                if obj["Key"].endswith(".gz"):
                    body = gzip.decompress(body)
                if body.startswith(b"\xef\xbb\xbf"):
                    body = body[3:]
                lines = body.split(b"\n")
                if lines and lines[-1] == b"":
                    lines.pop()
                for line in lines:
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    row = {column: line.decode("utf-8", "replace"), "$path": url}
                    if keys:
                        row[keys[0]] = part
                    out.write(json.dumps(row) + "\n")
    columns = {column: "VARCHAR", "$path": "VARCHAR"}
    if keys:
        columns[keys[0]] = "VARCHAR"
    spec = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
    db.execute(f"""CREATE TABLE "{database}"."{name}" AS SELECT * FROM read_json('{rows}',
                   format = 'newline_delimited', columns = {{{spec}}})""")
    return scanned


# What Trino's from_iso8601_timestamp reads: a date, then optionally T and a
# time (hours, minutes, seconds, a fraction), then optionally Z or an offset.
# DuckDB's cast is kinder (a space for the T, no leading zeros...): a text
# outside this form is an error here as in Athena (NULL inside try()).
ISO8601 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"


def duckdb_sql(select):
    """The SELECT in DuckDB's dialect, where sqlglot's rendering means
    something else than Athena's SQL:
    - length(to_utf8(x)) (the bytes of x) becomes LENGTH(ENCODE(x)), which
      DuckDB refuses (LENGTH of a BLOB): it is OCTET_LENGTH there;
    - from_iso8601_timestamp(x) becomes a cast DuckDB reads more leniently
      than Trino: texts outside ISO8601 fail the cast here too."""
    def athena(node):
        if isinstance(node, exp.Length) and isinstance(node.this, exp.Encode):
            return exp.func("OCTET_LENGTH", node.this)
        if isinstance(node, exp.FromISO8601Timestamp):
            text = node.this
            strict = exp.If(
                this=exp.RegexpLike(this=text.copy(), expression=exp.Literal.string(ISO8601)),
                true=text.copy(),
                false=exp.Literal.string("not ISO 8601"),
            )
            return exp.FromISO8601Timestamp(this=strict)
        return node
    return select.transform(athena).sql(dialect="duckdb")



def execute(query, text):
    """Runs one UNLOAD; sets the query's final state."""
    m = UNLOAD.match(text)
    if not m:
        return fail(query, "this stand-in runs UNLOAD statements only")
    try:
        select = sqlglot.parse_one(m.group("select"), read="athena")
    except sqlglot.errors.ParseError as e:
        return fail(query, f"line 1:1: {e}")
    props = dict(
        (k.strip().lower(), v.strip().strip("'").upper())
        for k, v in (p.split("=", 1) for p in m.group("with").split(","))
    )
    if props.get("format") != "PARQUET":
        return fail(query, "this stand-in writes format = 'PARQUET' only")
    ctes = {c.alias_or_name for c in select.find_all(exp.CTE)}
    tables = [t for t in select.find_all(exp.Table) if t.name not in ctes or t.db]
    if len(tables) != 1:
        return fail(query, "expected exactly one table")
    database, name = tables[0].db, tables[0].name
    try:
        table = aws("glue").get_table(DatabaseName=database, Name=name)["Table"]
    except aws("glue").exceptions.EntityNotFoundException:
        return fail(query, f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{name}' does not exist")
    s3 = aws("s3")
    to_bucket, to_key = split(m.group("to"))
    if s3.list_objects_v2(Bucket=to_bucket, Prefix=to_key).get("KeyCount", 0):
        return fail(query, f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{m.group('to')}' already exists")
    with tempfile.TemporaryDirectory() as tmp:
        db = duckdb.connect()
        db.execute("SET TimeZone = 'UTC'")
        db.execute(f'CREATE SCHEMA "{database}"')
        if is_text(table):
            scanned = text_table(db, s3, table, database, name, select, tmp)
        else:
            scanned = parquet_table(db, s3, table, database, name, tmp)
        sql = duckdb_sql(select)
        written = []
        try:
            db.execute(f"CREATE TABLE unloaded AS {sql}")
            rows = db.execute("SELECT count(*) FROM unloaded").fetchone()[0]
            # Athena's workers write in parallel: several files, each named
            # <engine query id>_<uuid> with no extension, no global order.
            files = min(rows, UNLOAD_FILES)
            for k in range(files):
                out = os.path.join(tmp, f"out-{k}")
                db.execute(f"COPY (SELECT * FROM unloaded LIMIT {rows // files + (k < rows % files)} "
                           f"OFFSET {k * (rows // files) + min(k, rows % files)}) "
                           f"TO '{out}' (FORMAT PARQUET, COMPRESSION ZSTD)")
                key = f"{to_key.rstrip('/')}/{query['_engine_id']}_{uuid.uuid4()}"
                s3.upload_file(out, to_bucket, key)
                written.append(f"s3://{to_bucket}/{key}")
        except duckdb.Error as e:
            return fail(query, f"line 1:1: {e}")
    # The data manifest and the query's metadata go to the results location.
    results = query["ResultConfiguration"].get("OutputLocation", "").rstrip("/")
    statistics = {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": 1,
                  "TotalExecutionTimeInMillis": 1}
    if results:
        res_bucket, res_key = split(results + "/")
        qid = query["QueryExecutionId"]
        manifest = f"{res_key}{qid}-manifest.csv"
        s3.put_object(Bucket=res_bucket, Key=manifest, Body="".join(w + "\n" for w in written).encode())
        s3.put_object(Bucket=res_bucket, Key=f"{res_key}{qid}.metadata", Body=os.urandom(64))
        statistics["DataManifestLocation"] = f"s3://{res_bucket}/{manifest}"
        query["ResultConfiguration"]["OutputLocation"] = f"s3://{res_bucket}/{res_key}{qid}"
    query["Statistics"] = statistics
    query["Status"].update(State="SUCCEEDED", CompletionDateTime=time.time())


def run(query):
    if options.fail:
        return fail(query, options.fail)
    try:
        execute(query, query["Query"])
    except Exception as e:  # an internal error, as Athena reports them
        fail(query, f"stand-in: {e!r}", category=1, error_type=401)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, kind, message):
        self.reply(400, {"__type": kind, "message": message})

    def do_GET(self):
        with lock:
            self.reply(200, calls)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        operation = self.headers.get("X-Amz-Target", "").removeprefix("AmazonAthena.")
        with lock:
            calls.append(operation)
            throttle = len(calls) <= options.throttle
        if throttle:
            return self.error("TooManyRequestsException", "Rate exceeded")
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            return self.error("InvalidRequestException", f"{operation} is not supported by the stand-in")
        handler(body)

    def op_StartQueryExecution(self, body):
        text = body.get("QueryString", "")
        token = body.get("ClientRequestToken")
        with lock:
            if token in tokens:
                return self.reply(200, {"QueryExecutionId": tokens[token]})
            qid = str(uuid.uuid4())
            tokens[token] = qid
            query = {
                "QueryExecutionId": qid, "Query": text, "StatementType": "DML",
                "_engine_id": time.strftime("%Y%m%d_%H%M%S_", time.gmtime())
                + f"{len(queries):05d}_" + uuid.uuid4().hex[:5],
                "WorkGroup": body.get("WorkGroup", "primary"),
                "ResultConfiguration": body.get("ResultConfiguration", {}),
                "Status": {"State": "QUEUED", "SubmissionDateTime": time.time()},
                "Statistics": {"DataScannedInBytes": 0},
                "_polls": 0,
            }
            queries[qid] = query
        self.reply(200, {"QueryExecutionId": qid})

    def op_GetQueryExecution(self, body):
        with lock:
            query = queries.get(body.get("QueryExecutionId"))
            if query is None:
                return self.error("InvalidRequestException", "QueryExecution not found")
            query["_polls"] += 1
            start = query["Status"]["State"] == "QUEUED" and query["_polls"] >= 2
            if start:
                query["Status"]["State"] = "RUNNING"
        if start and not options.hang:
            threading.Thread(target=run, args=(query,), daemon=True).start()
        visible = {k: v for k, v in query.items() if not k.startswith("_")}
        self.reply(200, {"QueryExecution": visible})

    def op_StopQueryExecution(self, body):
        with lock:
            query = queries.get(body.get("QueryExecutionId"))
            if query and query["Status"]["State"] in ("QUEUED", "RUNNING"):
                query["Status"].update(State="CANCELLED", CompletionDateTime=time.time())
        self.reply(200, {})

    def op_GetQueryResults(self, body):
        self.reply(200, {"ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": []}},
                         "UpdateCount": 0})


def main():
    global options
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--throttle", type=int, default=0)
    parser.add_argument("--fail")
    parser.add_argument("--hang", action="store_true")
    options = parser.parse_args()
    assert options.moto.startswith("http://127.0.0.1"), "loopback only"
    ThreadingHTTPServer(("127.0.0.1", options.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
