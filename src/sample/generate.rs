//! `costjob sample`: realistic demo inputs for one day, made deterministically
//! from a seed: a CUR 1.0 Parquet file (tagged and untagged rows over the
//! services of `pricing/`, Savings Plans and RI rows, tax, a credit, a fee) and
//! CloudWatch Logs export files (gzip, one folder per log stream) in which each
//! transaction touches several microservices, with plain-text lines, health
//! checks, malformed lines, type conflicts and transactions that cross midnight.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{Datelike, Duration, NaiveDate};
use flate2::write::GzEncoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub date: NaiveDate,
    pub transactions: u64,
    /// Log streams (files) per microservice.
    pub streams_per_service: usize,
    /// CUR rows to aim for (hourly rows over enough resources); 0 = scale with transactions.
    pub cur_rows: u64,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Default)]
pub struct SampleSummary {
    pub cur_file: PathBuf,
    pub cur_rows: usize,
    pub log_files: usize,
    pub log_lines: u64,
    pub transactions: u64,
}

/// SplitMix64: a tiny deterministic generator, stable across crate versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const SERVICES: [&str; 7] = [
    "pagos-svc",
    "recargas-svc",
    "onboarding-svc",
    "kyc-svc",
    "ledger-svc",
    "notificaciones-svc",
    "auth-svc",
];

/// Writes `out/cur/` and `out/logs/`.
pub fn generate(out: &Path, spec: &SampleSpec) -> Result<SampleSummary> {
    let mut summary = SampleSummary {
        transactions: spec.transactions,
        ..Default::default()
    };
    let cur_dir = out.join("cur");
    std::fs::create_dir_all(&cur_dir).map_err(|e| Error::io(&cur_dir, e))?;
    summary.cur_file = cur_dir.join(format!("cur-{}.snappy.parquet", spec.date));
    summary.cur_rows = write_cur(&summary.cur_file, spec)?;
    let (files, lines) = write_logs(&out.join("logs"), spec)?;
    summary.log_files = files;
    summary.log_lines = lines;
    Ok(summary)
}

/// One CUR line item, before it becomes columns.
#[derive(Default, Clone)]
struct Row {
    hour: i64,
    line_type: &'static str,
    product: &'static str,
    usage_type: String,
    operation: &'static str,
    resource: String,
    amount: f64,
    unblended: f64,
    ri_arn: Option<&'static str>,
    ri_effective: Option<f64>,
    ri_unused_upfront: Option<f64>,
    ri_unused_recurring: Option<f64>,
    sp_effective: Option<f64>,
    sp_commitment: Option<f64>,
    sp_used: Option<f64>,
    tags: [Option<&'static str>; 3],
    /// A month-long row, as AWS writes the RI fee and the Support fee: from
    /// the month's first midnight to `23:59:59` of its last day (SPEC 12.1).
    month_long: bool,
    /// The usage account; `None`: production's.
    account: Option<&'static str>,
}

/// deuna's production account, and a development account of the same
/// organization-wide export (out of scope once `[cur] accounts` lists production).
pub const PRODUCTION_ACCOUNT: &str = "123456789012";
pub const DEVELOPMENT_ACCOUNT: &str = "210987654321";

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// One hourly usage line of the demo CUR: product, usage type, operation,
/// usage per hour, price, and its three tags (`hourly_usage.csv`).
type HourlyUsage = (
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    [Option<&'static str>; 3],
);

/// The demo CUR's hourly usage lines, from `hourly_usage.csv`.
fn hourly_usage() -> Vec<HourlyUsage> {
    let file = include_str!("hourly_usage.csv");
    // `a`, `a / b` or `a / b * c`, left to right, as Rust evaluates it.
    let number = |text: &'static str| -> f64 {
        let mut tokens = text.split_whitespace();
        let first = tokens.next().and_then(|t| t.parse().ok());
        let mut value: f64 = first.expect("hourly_usage.csv: a number");
        while let (Some(op), Some(operand)) = (tokens.next(), tokens.next()) {
            let operand: f64 = operand.parse().expect("hourly_usage.csv: a number");
            value = if op == "/" {
                value / operand
            } else {
                value * operand
            };
        }
        value
    };
    let tag = |text: &'static str| (!text.is_empty()).then_some(text);
    (file.lines())
        .filter(|line| !line.starts_with('#'))
        .skip(1)
        .map(|line| {
            let fields: Vec<&'static str> = line.split(',').collect();
            let [
                product,
                usage_type,
                operation,
                usage,
                price,
                kind,
                flow,
                service,
            ] = fields[..]
            else {
                panic!("hourly_usage.csv: {line:?} has not 8 fields");
            };
            let tags = [tag(kind), tag(flow), tag(service)];
            (
                product,
                usage_type,
                operation,
                number(usage),
                number(price),
                tags,
            )
        })
        .collect()
}

/// The rows not hourly: the month's RI fee (one unused hour a day) and
/// Support fee (a tenth of the usage), month-long as AWS writes them, so
/// each day's share is what a day of the month costs; and at the day's first
/// hour the tax, credit and discount, proportional to the day's `usage`.
fn daily_rows(usage: &[Row], scale: f64, days_in_month: u32) -> Vec<Row> {
    let month = f64::from(days_in_month);
    let at0 =
        |line_type: &'static str, product: &'static str, usage_type: &str, unblended: f64| Row {
            hour: 0,
            line_type,
            product,
            usage_type: usage_type.into(),
            operation: "",
            unblended,
            amount: 1.0,
            ..Default::default()
        };
    let ri_daily = round(0.178 * 24.0 * scale.max(1.0), 10);
    let mut ri_fee = at0(
        "RIFee",
        "AmazonRDS",
        "HeavyUsage:db.r6g.large",
        round(ri_daily * month, 10),
    );
    ri_fee.month_long = true;
    ri_fee.ri_arn = Some("arn:aws:rds:us-east-1:123456789012:ri:deuna-aurora-ri");
    ri_fee.ri_unused_upfront = Some(0.0);
    // One unused hour a day.
    ri_fee.ri_unused_recurring = Some(round(round(0.178 * scale.max(1.0), 10) * month, 10));
    // Summed in the order the rows are written: the day's usage, then a day of the RI fee.
    let usage_total: f64 = usage.iter().map(|r| r.unblended).sum::<f64>() + ri_daily;
    let mut rows = vec![ri_fee];
    rows.push(at0("Tax", "AmazonECS", "", round(usage_total * 0.12, 10)));
    rows.push(at0(
        "Credit",
        "AmazonRDS",
        "",
        round(-usage_total * 0.02, 10),
    ));
    rows.push(at0(
        "EdpDiscount",
        "AmazonECS",
        "",
        round(-usage_total * 0.01, 10),
    ));
    let mut support = at0(
        "Fee",
        "AWSSupportBusiness",
        "Dollar",
        round(round(usage_total * 0.1, 10) * month, 10),
    );
    support.month_long = true;
    rows.push(support);
    rows
}

fn cur_rows(spec: &SampleSpec) -> Vec<Row> {
    let mut rng = Rng(spec.seed ^ 0xC0FFEE);
    let scale = (spec.transactions as f64 / 2_000.0).max(0.05);
    let target = if spec.cur_rows > 0 {
        spec.cur_rows
    } else {
        (spec.transactions / 5).max(600)
    };
    let hourly = hourly_usage();
    let per_line = (target as usize / (hourly.len() * 24)).max(1);
    let mut rows = Vec::new();
    for hour in 0..24i64 {
        for (li, &(product, usage_type, operation, amount, price, tags)) in
            hourly.iter().enumerate()
        {
            for copy in 0..per_line {
                let load = 0.6 + 0.8 * rng.unit();
                let amount = round(amount * scale * load / per_line as f64, 8);
                let cost = round(amount * price, 10);
                let resource = format!(
                    "arn:aws:{}:us-east-1:123456789012:res/{li}-{copy}",
                    product.to_lowercase()
                );
                let mut row = Row {
                    hour,
                    line_type: "Usage",
                    product,
                    usage_type: usage_type.to_string(),
                    operation,
                    resource,
                    amount,
                    unblended: cost,
                    tags,
                    ..Default::default()
                };
                // A third of the pagos Fargate vCPU is covered by a Compute Savings Plan.
                if li == 0 && copy % 3 == 0 {
                    row.line_type = "SavingsPlanCoveredUsage";
                    row.sp_effective = Some(round(cost * 0.66, 10));
                    let mut negation = row.clone();
                    negation.line_type = "SavingsPlanNegation";
                    negation.unblended = -cost;
                    negation.sp_effective = None;
                    rows.push(negation);
                }
                rows.push(row);
            }
        }
        // Aurora instances: reserved (DiscountedUsage) writer, on-demand reader.
        rows.push(Row {
            hour,
            line_type: "DiscountedUsage",
            product: "AmazonRDS",
            usage_type: "InstanceUsage:db.r6g.large".into(),
            operation: "CreateDBInstance:0021",
            resource: "arn:aws:rds:us-east-1:123456789012:db:deuna-aurora-1".into(),
            amount: 1.0,
            unblended: 0.0,
            ri_arn: Some("arn:aws:rds:us-east-1:123456789012:ri:deuna-aurora-ri"),
            ri_effective: Some(round(0.178 * scale.max(1.0), 10)),
            ..Default::default()
        });
        rows.push(Row {
            hour,
            line_type: "Usage",
            product: "AmazonRDS",
            usage_type: "InstanceUsage:db.r6g.large".into(),
            operation: "CreateDBInstance:0021",
            resource: "arn:aws:rds:us-east-1:123456789012:db:deuna-aurora-2".into(),
            amount: 1.0,
            unblended: round(0.26 * scale.max(1.0), 10),
            ..Default::default()
        });
        // The Savings Plan's hourly commitment, 90 % used.
        let commitment = round(0.05 * scale.max(1.0), 10);
        rows.push(Row {
            hour,
            line_type: "SavingsPlanRecurringFee",
            product: "ComputeSavingsPlans",
            usage_type: "ComputeSP:1yrNoUpfront".into(),
            operation: "",
            resource: "arn:aws:savingsplans::123456789012:savingsplan/7f1a".into(),
            amount: 1.0,
            unblended: commitment,
            sp_commitment: Some(commitment),
            sp_used: Some(round(commitment * 0.9, 10)),
            ..Default::default()
        });
    }
    let days_in_month = days_in_month(spec.date);
    rows.extend(daily_rows(&rows, scale, days_in_month));
    rows.extend(development_rows());
    rows
}

/// The development account's instance, hour by hour, untagged: in an
/// organization-wide export, out of scope once `[cur] accounts` is set.
fn development_rows() -> impl Iterator<Item = Row> {
    (0..24i64).map(|hour| Row {
        hour,
        line_type: "Usage",
        product: "AmazonEC2",
        usage_type: "BoxUsage:t4g.large".into(),
        operation: "RunInstances",
        resource: format!("arn:aws:ec2:us-east-1:{DEVELOPMENT_ACCOUNT}:instance/i-0dev"),
        amount: 1.0,
        unblended: 0.0672,
        account: Some(DEVELOPMENT_ACCOUNT),
        ..Default::default()
    })
}

/// The days of `date`'s month.
fn days_in_month(date: NaiveDate) -> u32 {
    let first = date.with_day(1).expect("a first day");
    let next = first + chrono::Months::new(1);
    (next - first).num_days() as u32
}

/// The demo CUR's rows as one CUR 1.0 batch: the line item, reservation,
/// Savings Plans and tag columns, hourly usage dates of `spec.date`.
fn cur_batch(rows: &[Row], spec: &SampleSpec) -> RecordBatch {
    let day0 = spec
        .date
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis();
    let period = spec
        .date
        .with_day(1)
        .expect("first of month")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis();
    let month_end = period + i64::from(days_in_month(spec.date)) * 86_400_000;
    let text = |name: &str, f: &dyn Fn(&Row) -> Option<String>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Utf8, true),
            Arc::new(rows.iter().map(f).collect::<StringArray>()),
        )
    };
    let num = |name: &str, f: &dyn Fn(&Row) -> Option<f64>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(rows.iter().map(f).collect::<Float64Array>()),
        )
    };
    let ts = |name: &str, f: &dyn Fn(&Row) -> i64| -> (Field, ArrayRef) {
        (
            Field::new(
                name,
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(f))
                    .with_timezone("UTC"),
            ),
        )
    };
    let columns = vec![
        text("identity_line_item_id", &|r| {
            Some(format!("{:016x}", r.hour as u64 ^ r.resource.len() as u64))
        }),
        text("bill_invoice_id", &|_| None), // the month is not final yet
        ts("bill_billing_period_start_date", &|_| period),
        text("line_item_usage_account_id", &|r| {
            Some(r.account.unwrap_or(PRODUCTION_ACCOUNT).into())
        }),
        text("line_item_line_item_type", &|r| Some(r.line_type.into())),
        ts("line_item_usage_start_date", &|r| match r.month_long {
            true => period,
            false => day0 + r.hour * 3_600_000,
        }),
        ts("line_item_usage_end_date", &|r| match r.month_long {
            true => month_end - 1_000, // 23:59:59 of the month's last day
            false => day0 + (r.hour + 1) * 3_600_000,
        }),
        text("line_item_product_code", &|r| Some(r.product.into())),
        text("line_item_usage_type", &|r| Some(r.usage_type.clone())),
        text("line_item_operation", &|r| Some(r.operation.into())),
        text("line_item_resource_id", &|r| {
            Some(r.resource.clone()).filter(|s| !s.is_empty())
        }),
        num("line_item_usage_amount", &|r| Some(r.amount)),
        num("line_item_unblended_cost", &|r| Some(r.unblended)),
        num("reservation_effective_cost", &|r| r.ri_effective),
        num(
            "reservation_unused_amortized_upfront_fee_for_billing_period",
            &|r| r.ri_unused_upfront,
        ),
        num("reservation_unused_recurring_fee", &|r| {
            r.ri_unused_recurring
        }),
        text("reservation_reservation_a_r_n", &|r| {
            r.ri_arn.map(String::from)
        }),
        num("savings_plan_savings_plan_effective_cost", &|r| {
            r.sp_effective
        }),
        num("savings_plan_total_commitment_to_date", &|r| {
            r.sp_commitment
        }),
        num("savings_plan_used_commitment", &|r| r.sp_used),
        text("resource_tags_user_transaction_type", &|r| {
            r.tags[0].map(String::from)
        }),
        text("resource_tags_user_flow", &|r| r.tags[1].map(String::from)),
        text("resource_tags_aws_ecs_service_name", &|r| {
            r.tags[2].map(String::from)
        }),
    ];
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns of equal length")
}

fn write_cur(path: &Path, spec: &SampleSpec) -> Result<usize> {
    let rows = cur_rows(spec);
    let batch = cur_batch(&rows, spec);
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(100_000))
        .build();
    let write_err = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(write_err)?;
    writer.write(&batch).map_err(write_err)?;
    writer.close().map_err(write_err)?;
    Ok(rows.len())
}

/// One log stream's file.
struct Stream {
    out: GzEncoder<BufWriter<File>>,
    path: PathBuf,
}

fn write_logs(dir: &Path, spec: &SampleSpec) -> Result<(usize, u64)> {
    let mut rng = Rng(spec.seed);
    let mut out = LogFiles::open(dir, spec, &mut rng)?;
    let n = spec.transactions.max(1);
    for i in 0..n {
        write_transaction(&mut out, &mut rng, i, n, spec.streams_per_service.max(1))?;
    }
    out.finish()
}

/// The export's files, one a log stream, and the lines written.
struct LogFiles {
    streams: BTreeMap<(usize, usize), Stream>,
    day0: chrono::DateTime<chrono::Utc>,
    line: String,
    lines: u64,
}

impl LogFiles {
    /// One gzip file a stream: `streams_per_service` for each service.
    fn open(dir: &Path, spec: &SampleSpec, rng: &mut Rng) -> Result<Self> {
        let task = format!("{:08x}-export", spec.seed as u32);
        let mut streams: BTreeMap<(usize, usize), Stream> = BTreeMap::new();
        for (s, service) in SERVICES.iter().enumerate() {
            for k in 0..spec.streams_per_service.max(1) {
                let path = dir
                    .join(&task)
                    .join(format!("ecs/{service}/{k:04x}{:012x}", rng.below(1 << 48)))
                    .join("000000.gz");
                let parent = path.parent().expect("has parent");
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
                let out = GzEncoder::new(
                    BufWriter::with_capacity(1 << 20, file),
                    flate2::Compression::new(6),
                );
                streams.insert((s, k), Stream { out, path });
            }
        }
        Ok(Self {
            streams,
            day0: spec.date.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
            line: String::with_capacity(512),
            lines: 0,
        })
    }

    /// One export line, `<timestamp> <msg>`, `ms` after midnight, in a stream of `service`.
    fn emit(&mut self, service: usize, stream: usize, ms: i64, msg: &str) -> Result<()> {
        let when = self.day0 + Duration::milliseconds(ms);
        self.line.clear();
        self.line
            .push_str(&when.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        self.line.push(' ');
        self.line.push_str(msg);
        self.line.push('\n');
        let s = self
            .streams
            .get_mut(&(service, stream))
            .expect("stream exists");
        s.out
            .write_all(self.line.as_bytes())
            .map_err(|e| Error::io(&s.path, e))?;
        self.lines += 1;
        Ok(())
    }

    /// Ends every file; the files and lines written.
    fn finish(self) -> Result<(usize, u64)> {
        let files = self.streams.len();
        for (_, s) in self.streams {
            s.out
                .finish()
                .and_then(|mut w| w.flush())
                .map_err(|e| Error::io(&s.path, e))?;
        }
        Ok((files, self.lines))
    }
}

/// The `i`-th of `n` transactions: its events in the services it touches,
/// then the noise real logs carry.
fn write_transaction(
    out: &mut LogFiles,
    rng: &mut Rng,
    i: u64,
    n: u64,
    per_service: usize,
) -> Result<()> {
    let (start, id) = start_and_id(rng, i, n);
    let roll = rng.below(100);
    let (flow, main_service, route, ty) = match roll {
        0..=54 => ("pago", 0, "POST /v1/pagos/qr", "monetary"),
        55..=89 => ("recarga", 1, "POST /v1/recargas/celular", "monetary"),
        _ => ("onboarding", 2, "POST /v1/onboarding/start", "non-monetary"),
    };
    let stream = (rng.below(per_service as u64)) as usize;
    let status = if rng.below(100) < 97 {
        "OK"
    } else {
        "DECLINED"
    };
    // The entry service logs the route; half of them also log the flow.
    let with_flow = rng.below(2) == 0;
    let mut t = start;
    let mut step = |rng: &mut Rng| {
        t += 5 + rng.below(400) as i64;
        t
    };
    let conflict = i % 450 == 7 && flow != "onboarding";
    let flow_field = if with_flow {
        format!(r#","flow":"{flow}""#)
    } else {
        String::new()
    };
    let type_field = if conflict {
        r#","transaction_type":"non-monetary""#
    } else if with_flow {
        &format!(r#","transaction_type":"{ty}""#)[..]
    } else {
        ""
    };
    let d = 20 + rng.below(250);
    let ts0 = step(rng);
    out.emit(
            6,
            stream,
            ts0,
            &format!(
                r#"{{"level":"info","service":"auth-svc","transaction_id":"{id}","route":"POST /v1/auth/token","status":"OK","duration_ms":{},"usage":{{"kms_requests":1}}}}"#,
                5 + rng.below(20)
            ),
        )?;
    let ts1 = step(rng);
    out.emit(
            main_service,
            stream,
            ts1,
            &format!(
                r#"{{"level":"info","service":"{}","transaction_id":"{id}"{flow_field}{type_field},"route":"{route}","status":"{status}","duration_ms":{d},"usage":{{"kms_requests":2}}}}"#,
                SERVICES[main_service]
            ),
        )?;
    if flow == "onboarding" {
        let faces = 1 + rng.below(2);
        let ts = step(rng);
        out.emit(
                3,
                stream,
                ts,
                &format!(
                    r#"{{"level":"info","service":"kyc-svc","transaction_id":"{id}","route":"POST /internal/kyc/verify","status":"{status}","duration_ms":{},"usage":{{"faces_compared":{faces},"pages_analyzed":2,"kms_requests":1}}}}"#,
                    300 + rng.below(900)
                ),
            )?;
    } else {
        let ts = step(rng);
        out.emit(
                4,
                stream,
                ts,
                &format!(
                    r#"{{"level":"info","service":"ledger-svc","transaction_id":"{id}","route":"SQS ledger-postings","status":"{status}","duration_ms":{},"usage":{{"kms_requests":1}}}}"#,
                    10 + rng.below(60)
                ),
            )?;
    }
    let sms = u64::from(rng.below(10) < 3);
    let ts = step(rng);
    out.emit(
            5,
            stream,
            ts,
            &format!(
                r#"{{"level":"info","service":"notificaciones-svc","transaction_id":"{id}","route":"SNS notify","status":"OK","duration_ms":{},"usage":{{"sms_messages":{sms}}}}}"#,
                3 + rng.below(30)
            ),
        )?;
    write_noise(out, rng, i, &id, main_service, stream, ts1)
}

/// When the `i`-th of `n` transactions starts (ms after midnight: spread over
/// the day, the first and last few across midnight) and its UUID.
fn start_and_id(rng: &mut Rng, i: u64, n: u64) -> (i64, String) {
    let start = if i + 1 == n || (i + 1).is_multiple_of(400) && i + 1 > n / 2 {
        86_400_000 - 600 + rng.below(300) as i64
    } else if i.is_multiple_of(700) {
        -400 - rng.below(300) as i64
    } else {
        (i as i128 * 86_400_000 / n as i128) as i64 + rng.below(500) as i64
    };
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.next() as u32,
        rng.below(1 << 16),
        rng.below(1 << 12),
        rng.below(1 << 12),
        rng.below(1 << 48)
    );
    (start, id)
}

/// Plain text, health checks, stack traces and malformed lines, as real logs carry.
fn write_noise(
    out: &mut LogFiles,
    rng: &mut Rng,
    i: u64,
    id: &str,
    main_service: usize,
    stream: usize,
    ts1: i64,
) -> Result<()> {
    // Noise: plain text, health checks, stack traces, malformed lines.
    if i % 997 == 500 {
        out.emit(
                5,
                stream,
                ts1,
                &format!(
                    r#"{{"level":"warn","service":"notificaciones-svc","transaction_id":"{id}","route":"SNS noti"#
                ),
            )?;
    }
    match rng.below(1000) {
            0..=19 => out.emit(
                main_service,
                stream,
                ts1,
                "INFO  HikariPool-1 - Pool stats (total=10, active=2, idle=8, waiting=0)",
            )?,
            20..=29 => out.emit(
                main_service,
                stream,
                ts1,
                r#"{"level":"debug","service":"pagos-svc","route":"GET /health","status":"OK"}"#,
            )?,
            30..=31 => {
                out.emit(
                    4,
                    stream,
                    ts1,
                    "java.lang.IllegalStateException: ledger lock timeout",
                )?;
                out.emit(
                    4,
                    stream,
                    ts1,
                    "\tat ec.deuna.ledger.Postings.apply(Postings.java:88)",
                )?;
            }
            32 => out.emit(
                5,
                stream,
                ts1,
                &format!(
                    r#"{{"level":"warn","service":"notificaciones-svc","transaction_id":"{id}","route":"SNS noti"#
                ),
            )?,
            _ => {}
        }
    Ok(())
}
