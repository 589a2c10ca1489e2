//! The log reader on every envelope (SPEC 2.4) and the classification rules
//! (SPEC 2.5): gzip detected by magic bytes, concatenated Firehose records,
//! every line in exactly one counter, malformed samples with file and line.

use std::path::Path;

use costjob::NoProgress;
use costjob::classify::{Flow, FlowCatalog, TransactionAcc};
use costjob::config::{FieldsSection, LogFormat};
use costjob::model::TransactionType;
use costjob::model::id::TransactionId;
use costjob::pricing::UnitKeys;
use costjob::source::logs::{LogDay, LogReader};
use regex::Regex;

use crate::helpers::*;

fn catalog() -> FlowCatalog {
    let flow = |name: &str, ty, route: &str| Flow {
        name: name.into(),
        transaction_type: ty,
        routes: vec![Regex::new(route).unwrap()],
    };
    FlowCatalog::new(vec![
        flow("recarga", TransactionType::Monetary, "^POST /v1/recargas"),
        flow("pago", TransactionType::Monetary, "^POST /v1/pagos"),
        flow(
            "onboarding",
            TransactionType::NonMonetary,
            "^POST /v1/onboarding",
        ),
    ])
}

fn fields() -> FieldsSection {
    toml::from_str("").unwrap()
}

fn read(
    dir: &Path,
    format: LogFormat,
    keys: &UnitKeys,
    allow_corrupt: bool,
) -> costjob::Result<LogDay> {
    let fields = fields();
    let catalog = catalog();
    let reader = LogReader {
        calendar: Default::default(),
        format,
        fields: &fields,
        date: date(DEMO_DATE),
        catalog: &catalog,
        keys,
        allow_corrupt_input: allow_corrupt,
        max_line_bytes: 1 << 20,
    };
    reader.read(
        &costjob::storage::Store::default(),
        &[costjob::storage::Location::Local(dir.to_path_buf())],
        2,
        &NoProgress,
    )
}

fn event(ts: &str, tx: &str, service: &str, extra: &str) -> String {
    format!(r#"{{"timestamp":"{ts}","service":"{service}","transaction_id":"{tx}"{extra}}}"#)
}

#[test]
fn cloudwatch_export_lines_each_land_in_one_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = [
        format!(
            "2026-11-23T10:00:00.000Z {}",
            event(
                "x",
                "a",
                "pagos-svc",
                r#","route":"POST /v1/pagos/qr","duration_ms":100,"usage":{"kms_requests":2}"#
            )
        ),
        format!(
            "2026-11-23T10:00:01.000Z {}",
            event("x", "a", "ledger-svc", r#","duration_ms":50,"status":"OK""#)
        ),
        "2026-11-23T10:00:02.000Z INFO plain text".to_string(),
        "\tat ec.deuna.Foo.bar(Foo.java:1)".to_string(),
        String::new(),
        "2026-11-23T10:00:03.000Z {\"service\":\"pagos-svc\",\"route\":\"GET /health\"}"
            .to_string(),
        "2026-11-23T10:00:04.000Z {\"transaction_id\":\"b\",".to_string(),
        "2026-11-22T23:59:59.999Z ".to_string() + &event("x", "c", "pagos-svc", ""),
        "2026-11-23T10:00:05.000Z ".to_string() + &event("x", "d", "", ""),
        "2026-11-23T10:00:06.000Z ".to_string()
            + &event("x", "e", "pagos-svc", r#","duration_ms":-5"#),
        "2026-11-24T00:00:00.000Z ".to_string() + &event("x", "a", "pagos-svc", ""),
    ];
    // Gzip by magic bytes, whatever the name says; plain text named .gz.
    let stream = tmp.path().join("task/ecs/pagos-svc/abc");
    std::fs::create_dir_all(&stream).unwrap();
    std::fs::write(stream.join("000000.txt"), gzip(lines.join("\n").as_bytes())).unwrap();
    std::fs::write(stream.join("000001.gz"), lines[..2].join("\r\n")).unwrap();
    let mut keys = UnitKeys::default();
    let kms = keys.intern("usage.kms_requests", None).unwrap();
    let duration_ledger = keys.intern("duration_ms", Some("ledger-svc")).unwrap();
    let per_tx = keys.intern("transactions", None).unwrap();
    let day = read(tmp.path(), LogFormat::CloudwatchExport, &keys, false).unwrap();
    let c = &day.counters;
    assert_eq!(c.lines, 13);
    assert_eq!(
        (
            c.events,
            c.non_json,
            c.blank,
            c.no_transaction,
            c.malformed,
            c.out_of_day,
            c.missing_service
        ),
        (4, 2, 1, 1, 2, 2, 1)
    );
    assert!(c.balanced());
    assert_eq!(day.malformed.len(), 2);
    assert_eq!(day.malformed[0].line, 7);
    assert!(
        day.malformed[1].error.contains("duration_ms"),
        "{:?}",
        day.malformed
    );
    assert_eq!(day.transactions.len(), 1);
    let a = &day.transactions[0];
    assert_eq!(
        (
            &*a.id.to_string(),
            &*a.kind.flow,
            a.kind.transaction_type,
            a.events
        ),
        ("a", "pago", Some(TransactionType::Monetary), 4)
    );
    assert_eq!(a.kind.status.as_deref(), Some("OK"));
    assert_eq!(a.duration_ms, 300);
    assert_eq!(a.units_for(kms), 4);
    assert_eq!(a.units_for(duration_ledger), 100);
    assert_eq!(
        a.units_for(per_tx),
        1,
        "a transaction is one unit however many events it has"
    );
}

#[test]
fn firehose_records_concatenated_with_control_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let record = |kind: &str, events: &[(i64, String)]| {
        let events: Vec<serde_json::Value> =
            events.iter().map(|(ts, m)| serde_json::json!({"id": format!("{kind}-{ts}"), "timestamp": ts, "message": m})).collect();
        serde_json::json!({"messageType": kind, "owner": "123456789012", "logGroup": "/ecs/pagos", "logStream": "s", "subscriptionFilters": ["f"], "logEvents": events}).to_string()
    };
    let t = 1_795_428_000_000i64; // 2026-11-23T10:00:00Z
    let body = [
        record(
            "CONTROL_MESSAGE",
            &[(
                t,
                "CWL CONTROL MESSAGE: Checking health of destination Firehose.".into(),
            )],
        ),
        record(
            "DATA_MESSAGE",
            &[
                (
                    t,
                    event(
                        "ignored: envelope wins",
                        "f1",
                        "recargas-svc",
                        r#","route":"POST /v1/recargas/celular""#,
                    ),
                ),
                (t + 5, "not json".into()),
            ],
        ),
        record(
            "DATA_MESSAGE",
            &[
                (
                    t + 9,
                    event(
                        "x",
                        "f1",
                        "ledger-svc",
                        r#","transaction_type":"non-monetary""#,
                    ),
                ),
                (t - 86_400_000, event("x", "f2", "pagos-svc", "")),
            ],
        ),
    ]
    .concat(); // no separator between records
    // The second object is Firehose re-delivering the first (at-least-once).
    std::fs::write(tmp.path().join("delivery-1"), gzip(body.as_bytes())).unwrap();
    std::fs::write(tmp.path().join("delivery-2"), &body).unwrap();
    let day = read(tmp.path(), LogFormat::Firehose, &UnitKeys::default(), false).unwrap();
    let c = &day.counters;
    assert_eq!(
        (
            c.lines,
            c.events,
            c.non_json,
            c.out_of_day,
            c.control_messages,
            c.duplicate
        ),
        (8, 2, 1, 1, 2, 4),
        "every event of the re-delivery is a duplicate, used once"
    );
    assert!(c.balanced());
    assert_eq!(day.transactions.len(), 1);
    let f1 = &day.transactions[0];
    assert_eq!(&*f1.kind.flow, "recarga", "classified by route");
    assert_eq!(
        c.type_conflicts, 1,
        "explicit non-monetary on a monetary flow, once: the re-delivery is not counted again"
    );
    assert_eq!(f1.first_ts, t);
}

#[test]
fn jsonl_classification_follows_time_not_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    // The later file holds the earlier event: the first flow in time order wins.
    std::fs::write(
        tmp.path().join("a.jsonl"),
        [
            event(
                "2026-11-23T12:00:00Z",
                "t1",
                "pagos-svc",
                r#","flow":"pago","status":"PENDING""#,
            ),
            event(
                "2026-11-23T12:00:00Z",
                "t2",
                "x-svc",
                r#","route":"GET /v1/other""#,
            ),
            event(
                "2026-11-23T12:00:00Z",
                "t3",
                "x-svc",
                r#","flow":"transferencia""#,
            ),
        ]
        .join("\n"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("b.jsonl"),
        [
            event(
                "2026-11-23T11:00:00Z",
                "t1",
                "recargas-svc",
                r#","flow":"recarga""#,
            ),
            event(
                "2026-11-23T13:00:00Z",
                "t1",
                "ledger-svc",
                r#","status":"OK""#,
            ),
            "{\"transaction_id\":\"t4\",\"service\":\"s\"}".to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    let day = read(tmp.path(), LogFormat::Jsonl, &UnitKeys::default(), false).unwrap();
    assert_eq!(day.counters.bad_timestamp, 1);
    let by_id = |id: &str| {
        day.transactions
            .iter()
            .find(|t| t.id.to_string() == id)
            .unwrap()
    };
    assert_eq!(&*by_id("t1").kind.flow, "recarga");
    assert_eq!(
        by_id("t1").kind.status.as_deref(),
        Some("OK"),
        "last status in time order"
    );
    assert_eq!(
        (&*by_id("t2").kind.flow, by_id("t2").type_name()),
        ("unclassified", "unclassified")
    );
    assert_eq!(
        (&*by_id("t3").kind.flow, by_id("t3").type_name()),
        ("transferencia", "unclassified"),
        "unknown flow name kept"
    );
}

#[test]
fn a_truncated_firehose_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let body = r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1795428000000,"message":"x"}]}"#.repeat(2000);
    let gz = gzip(body.as_bytes());
    std::fs::write(tmp.path().join("cut"), &gz[..gz.len() - 20]).unwrap();
    let err = read(tmp.path(), LogFormat::Firehose, &UnitKeys::default(), false).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("cut"), "{err}");
    let day = read(tmp.path(), LogFormat::Firehose, &UnitKeys::default(), true).unwrap();
    assert_eq!(day.counters.corrupt_files, 1);
    assert!(day.counters.balanced());
}

#[test]
fn selective_and_full_parses_agree() {
    // Escaped strings, duplicate keys (the last wins), numbers as floats, non-object
    // JSON, and an escaped key: the selective parse must give what the full parse gives.
    let tmp = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"timestamp":"2026-11-23T10:00:00Z","service":"pagos-svc","transaction_id":"t\u0031","route":"POST \/v1\/pagos\/qr","duration_ms":12.0,"usage":{"kms_requests":2}}"#,
        r#"{"timestamp":"2026-11-23T10:00:01Z","service":"x","service":"ledger-svc","transaction_id":"t1","status":"OK","extra":{"nested":[1,2,{"a":"b"}]}}"#,
        r#"[1,2,3]"#,
        r#""just a string""#,
        r#"{"timestamp":"2026-11-23T10:00:02Z","serv\u0069ce":"kyc-svc","transaction_id":"t2","flow":"onboarding"}"#,
        r#"{"timestamp":"2026-11-23T10:00:03Z","service":"kyc-svc","transaction_id":"t3","flow":"onboarding","usage":{"faces_compared":-1}}"#,
    ];
    std::fs::write(tmp.path().join("events.jsonl"), lines.join("\n")).unwrap();
    let catalog = catalog();
    let mut keys = UnitKeys::default();
    keys.intern("usage.kms_requests", None).unwrap();
    keys.intern("duration_ms", Some("pagos-svc")).unwrap();
    let read_with = |fields: &FieldsSection| {
        let reader = LogReader {
            calendar: Default::default(),
            format: LogFormat::Jsonl,
            fields,
            date: date(DEMO_DATE),
            catalog: &catalog,
            keys: &keys,
            allow_corrupt_input: false,
            max_line_bytes: 1 << 20,
        };
        reader
            .read(
                &costjob::storage::Store::default(),
                &[costjob::storage::Location::Local(tmp.path().to_path_buf())],
                2,
                &NoProgress,
            )
            .unwrap()
    };
    let selective = read_with(&fields());
    // A nested pointer for an absent member forces the full parse for every event.
    let mut nested = fields();
    nested.status = "/status".into();
    nested.flow = "/meta/../flow".into(); // two tokens: never matches, so flows come from routes
    let full = read_with(&nested);
    assert_eq!(selective.counters, full.counters);
    let c = &selective.counters;
    assert_eq!(
        (c.events, c.no_transaction, c.non_json, c.malformed),
        (3, 1, 1, 1),
        "{c:?}"
    );
    assert_eq!(
        selective.counters.missing_service, 0,
        "the escaped key \"serv\\u0069ce\" is service"
    );
    let t1 = &selective.transactions[0];
    assert_eq!(
        (
            &*t1.id.to_string(),
            &*t1.kind.flow,
            t1.duration_ms,
            t1.events
        ),
        ("t1", "pago", 12, 2)
    );
    assert_eq!(t1.kind.status.as_deref(), Some("OK"));
    assert_eq!(full.transactions[0].units, t1.units);
}

/// Issue 9 case 1 (SPEC 2.4): driver values are integers in [0, 2^53); sums never wrap.
#[test]
fn driver_values_outside_0_to_2_pow_53_are_malformed_and_sums_are_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let max = (1u64 << 53) - 1;
    let line = |tx: &str, extra: &str| {
        format!(
            "2026-11-23T10:00:00.000Z {}",
            event("x", tx, "pagos-svc", extra)
        )
    };
    let lines = [
        line(
            "a",
            &format!(r#","duration_ms":{max},"usage":{{"kms_requests":{max}}}"#),
        ),
        line(
            "a",
            &format!(r#","duration_ms":{max},"usage":{{"kms_requests":{max}}}"#),
        ),
        line("b", r#","usage":{"kms_requests":9223372036854775808}"#),
        line("b", r#","usage":{"kms_requests":9223372036854775812}"#),
        line("b", r#","usage":{"kms_requests":18446744073709551615}"#),
        line("c", r#","duration_ms":1e19"#),
        line("c", r#","duration_ms":9007199254740992"#),
        line("c", r#","duration_ms":-1"#),
        line("c", r#","duration_ms":1.5"#),
        line("c", r#","duration_ms":"5""#),
        line("d", r#","duration_ms":12.0"#),
    ];
    std::fs::write(tmp.path().join("000000"), lines.join("\n")).unwrap();
    let mut keys = UnitKeys::default();
    let kms = keys.intern("usage.kms_requests", None).unwrap();
    let day = read(tmp.path(), LogFormat::CloudwatchExport, &keys, false).unwrap();
    let c = &day.counters;
    assert_eq!((c.events, c.malformed), (3, 8), "{:?}", day.malformed);
    assert!(c.balanced());
    let a = &day.transactions[0];
    assert_eq!(a.duration_ms, 2 * max, "exact, no wrap");
    assert_eq!(a.units_for(kms), 2 * max);
    assert!(day.malformed.iter().any(|s| s.error.contains("[0, 2^53)")));
    assert_eq!(
        day.transactions.len(),
        2,
        "a and d: b and c lost only their bad lines"
    );
    assert_eq!(day.transactions[1].duration_ms, 12);
}

/// An accumulator counts a transaction's events in 32 bits: the event past
/// 2^32 - 1 is refused with a reason (the reader counts it malformed) and
/// changes nothing, like a sum past 2^64.
#[test]
fn the_event_past_2_pow_32_of_one_transaction_is_refused_and_changes_nothing() {
    let catalog = catalog();
    let keys = UnitKeys::default();
    let (mut routes, mut additions, mut texts) = Default::default();
    let event = costjob::classify::Event {
        ts_ms: 1_000,
        transaction_id: "t",
        service: "pagos-svc",
        duration_ms: 7,
        ..Default::default()
    };
    let mut acc = TransactionAcc::new(1_000);
    let mut absorb = |acc: &mut TransactionAcc| {
        acc.absorb(
            &event,
            &catalog,
            &keys,
            &mut routes,
            &mut additions,
            &mut texts,
        )
    };
    absorb(&mut acc).unwrap();
    acc.events = u32::MAX - 1;
    absorb(&mut acc).unwrap();
    assert_eq!((acc.events, acc.duration_ms), (u32::MAX, 14));
    let refused = absorb(&mut acc).unwrap_err();
    assert!(refused.contains("2^32"), "{refused}");
    assert_eq!((acc.events, acc.duration_ms), (u32::MAX, 14), "unchanged");
}

/// SPEC 2.4: a transaction id is a non-empty string or an integer (its decimal text).
#[test]
fn integer_transaction_ids_are_their_decimal_text() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"timestamp":"2026-11-23T10:00:00Z","service":"pagos-svc","transaction_id":42}"#,
        r#"{"timestamp":"2026-11-23T10:00:01Z","service":"pagos-svc","transaction_id":"42"}"#,
        r#"{"timestamp":"2026-11-23T10:00:02Z","service":"pagos-svc","transaction_id":4.2}"#,
        r#"{"timestamp":"2026-11-23T10:00:03Z","service":"pagos-svc","transaction_id":""}"#,
        r#"{"timestamp":"2026-11-23T10:00:04Z","service":"pagos-svc","transaction_id":" 42"}"#,
    ];
    std::fs::write(tmp.path().join("events.jsonl"), lines.join("\n")).unwrap();
    let day = read(tmp.path(), LogFormat::Jsonl, &UnitKeys::default(), false).unwrap();
    let c = &day.counters;
    assert_eq!((c.events, c.malformed, c.no_transaction), (3, 1, 1));
    let ids: Vec<(String, u32)> = day
        .transactions
        .iter()
        .map(|t| (t.id.to_string(), t.events))
        .collect();
    assert_eq!(
        ids,
        [(" 42".into(), 1), ("42".into(), 2)],
        "whitespace is part of the id"
    );
}

/// Issue 9 case 5 (SPEC 2.4): a line longer than max_line_bytes is counted
/// `oversized` and skipped without being held; the lines around it are read.
#[test]
fn a_line_longer_than_max_line_bytes_is_oversized_and_never_held() {
    let tmp = tempfile::tempdir().unwrap();
    let good = |tx: &str| {
        format!(
            "2026-11-23T10:00:00.000Z {}",
            event("x", tx, "pagos-svc", "")
        )
    };
    let mut body = good("a").into_bytes();
    body.push(b'\n');
    body.extend(std::iter::repeat_n(0u8, 64 << 20)); // one 64 MiB "line" of NUL bytes
    body.push(b'\n');
    body.extend(good("b").into_bytes());
    std::fs::write(tmp.path().join("000000.gz"), gzip(&body)).unwrap();
    let fields = fields();
    let catalog = catalog();
    let keys = UnitKeys::default();
    let reader = LogReader {
        calendar: Default::default(),
        format: LogFormat::CloudwatchExport,
        fields: &fields,
        date: date(DEMO_DATE),
        catalog: &catalog,
        keys: &keys,
        allow_corrupt_input: false,
        max_line_bytes: 4096,
    };
    let day = reader
        .read(
            &costjob::storage::Store::default(),
            &[costjob::storage::Location::Local(tmp.path().to_path_buf())],
            2,
            &NoProgress,
        )
        .unwrap();
    let c = &day.counters;
    assert_eq!((c.lines, c.events, c.oversized), (3, 2, 1));
    assert!(c.balanced());
    // Each good line is its own transaction: the skipped line takes nothing
    // read before it with it.
    let ids: Vec<TransactionId> = day.transactions.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, [TransactionId::from("a"), TransactionId::from("b")]);
}

/// Issue 9 case 6 (SPEC 2.4): a UTF-8 BOM at the start of a file is skipped.
#[test]
fn a_byte_order_mark_does_not_cost_the_first_event() {
    let tmp = tempfile::tempdir().unwrap();
    let line = format!(
        "2026-11-23T10:00:00.000Z {}",
        event("x", "a", "pagos-svc", "")
    );
    let mut plain = b"\xEF\xBB\xBF".to_vec();
    plain.extend(line.as_bytes());
    std::fs::write(tmp.path().join("plain"), &plain).unwrap();
    std::fs::write(tmp.path().join("zipped"), gzip(&plain)).unwrap();
    let day = read(
        tmp.path(),
        LogFormat::CloudwatchExport,
        &UnitKeys::default(),
        false,
    )
    .unwrap();
    assert_eq!((day.counters.events, day.counters.non_json), (2, 0));
    let jsonl = tmp.path().join("jsonl");
    std::fs::create_dir(&jsonl).unwrap();
    let mut event_line = b"\xEF\xBB\xBF".to_vec();
    event_line.extend(event("2026-11-23T10:00:00Z", "a", "pagos-svc", "").as_bytes());
    std::fs::write(jsonl.join("e.jsonl"), &event_line).unwrap();
    let day = read(&jsonl, LogFormat::Jsonl, &UnitKeys::default(), false).unwrap();
    assert_eq!((day.counters.events, day.counters.malformed), (1, 0));
}
