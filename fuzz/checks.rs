//! What each fuzz target does with one input; `fuzz_targets/*` call these, and
//! `tests/it/fuzz_corpus.rs` replays the kept corpus through them (no fuzzing
//! time in CI). Bad input may be an error, never a panic, and what is read
//! must stay counted.

use std::path::Path;
use std::sync::OnceLock;

use costjob::config::{LogFormat, Overrides, RunPlan};
use costjob::pricing::UnitKeys;
use costjob::source::cur::{self, RowRules};
use costjob::source::logs::LogReader;

/// The demo configuration (flows, fields, tags, pricing), loaded once.
fn plan() -> &'static RunPlan {
    static PLAN: OnceLock<RunPlan> = OnceLock::new();
    PLAN.get_or_init(|| {
        // Built from fuzz/ (the fuzz crate) or from the repository (the replay test).
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = if crate_dir.ends_with("fuzz") {
            crate_dir.join("..")
        } else {
            crate_dir.to_path_buf()
        };
        let config = root.join("examples/costjob.toml");
        costjob::config::load(&config, &Default::default(), &Overrides::default())
            .expect("the demo configuration loads")
    })
}

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date")
}

/// The first byte picks the envelope; the rest is one log file (gzip or not).
pub fn log_envelopes(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = [
        LogFormat::CloudwatchExport,
        LogFormat::Firehose,
        LogFormat::Jsonl,
    ][selector as usize % 3];
    let plan = plan();
    let mut keys = UnitKeys::default();
    keys.intern("usage.kms_requests", None).expect("a key");
    keys.intern("duration_ms", Some("ledger-svc"))
        .expect("a key");
    keys.intern("events", None).expect("a key");
    let reader = LogReader {
        calendar: Default::default(),
        format,
        fields: &plan.fields,
        date: day(),
        catalog: &plan.catalog,
        keys: &keys,
        allow_corrupt_input: selector & 0x80 != 0,
        max_line_bytes: 4096,
    };
    let stream = Box::new(std::io::Cursor::new(body.to_vec()));
    if let Ok(day) = reader.read_stream(Path::new("fuzz-input"), stream) {
        assert!(
            day.counters.balanced(),
            "every line in one counter: {:?}",
            day.counters
        );
        let events: u64 = day.transactions.iter().map(|t| u64::from(t.events)).sum();
        assert_eq!(
            events, day.counters.events,
            "every counted event is in a transaction"
        );
    }
}

/// One CUR Parquet file read for the demo day with the demo's rules.
pub fn cur_parquet(data: &[u8]) {
    let plan = plan();
    let rules = RowRules {
        calendar: Default::default(),
        accounts: &[],
        basis: plan.cost_basis,
        excluded_types: &plan.excluded_types,
        tags: &plan.tags,
        pricing: &plan.pricing,
    };
    let bytes = bytes::Bytes::copy_from_slice(data);
    if let Ok((day, _)) = cur::read_parquet_bytes(Path::new("fuzz.parquet"), bytes, day(), &rules) {
        let pooled: i128 = day.pools.values().sum();
        let excluded: i128 = day.excluded.values().sum();
        assert_eq!(
            day.total,
            pooled + excluded,
            "every row's cost in a pool or excluded"
        );
    }
}
