//! Athena for both sources (SPEC 2.7, 14): a table's shape from Glue, one
//! `UNLOAD` run to its end (polled, throttling retried, stopped on timeout or
//! a signal, a failure reported with Athena's own words), the files it wrote
//! handed to the caller and then deleted with the query's manifest and
//! metadata, and what the scan cost.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_athena::types::{QueryExecutionState, ResultConfiguration};
use serde::Serialize;

use crate::config::AthenaPlan;
use crate::model::money::{self, Money};
use crate::storage::{Aws, Location, Object, Store, describe};
use crate::{Error, Result};

/// Runs `sql`, an UNLOAD into `target`, and hands `read` the files it wrote
/// (Athena's data manifest, or the listing of `target`). The files, the
/// manifest and the query's metadata are this run's scratch: removed
/// whatever `read` did. `token` makes a retried start idempotent (32 to 128
/// characters, unique per query of a run).
pub fn unload<T>(
    store: &Store,
    plan: &AthenaPlan,
    sql: &str,
    target: &Location,
    token: &str,
    read: impl FnOnce(Vec<Object>) -> Result<T>,
) -> Result<(T, QueryStats)> {
    let (mut stats, manifest) = run_query(store.aws(), plan, sql, token)?;
    let files = unloaded_files(store, target, manifest.as_deref());
    if let Ok(files) = &files {
        stats.unloaded_bytes = files.iter().map(|f| f.size).sum();
    }
    let read = files.and_then(read);
    let mut scratch = Vec::new();
    if let Location::S3 { bucket, key } = target {
        scratch.push((bucket.clone(), format!("{key}/")));
    }
    if let Some(Location::S3 { bucket, key }) = query_results(plan, &stats.query_id) {
        scratch.push((bucket, key));
    }
    for (bucket, prefix) in &scratch {
        let keys: Vec<String> = store
            .list_keys(bucket, prefix)?
            .into_iter()
            .map(|(k, _, _)| k)
            .collect();
        store.delete_keys(bucket, &keys)?;
    }
    Ok((read?, stats))
}

/// `text` (an SQL expression) for Trino's `from_iso8601_timestamp`, which
/// wants a `T` between the date and the time: AWS's own CUR text files and
/// many loggers write `2019-11-29 21:00:00`, which it refuses. The 11th
/// character made a `T` when it is a space; anything else left as it is.
pub fn iso8601(text: &str) -> String {
    format!(
        "CASE WHEN substr({text}, 11, 1) = ' ' THEN concat(substr({text}, 1, 10), 'T', substr({text}, 12)) ELSE {text} END"
    )
}

/// An `s3://` UNLOAD target whose bucket and key hold only `[A-Za-z0-9/-_.=]`:
/// safe between the quotes of `TO '...'`.
pub fn checked_target(target: &Location) -> Result<(&str, &str)> {
    let Location::S3 { bucket, key } = target else {
        return Err(Error::config("the UNLOAD target must be an s3:// location"));
    };
    let safe = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.=".contains(&b))
    };
    if !safe(bucket) || !safe(key) {
        return Err(Error::config(format!(
            "UNLOAD target {target} has characters outside [A-Za-z0-9/-_.=]"
        )));
    }
    Ok((bucket, key))
}

/// What the day's query did, for the run report and the stage's log line.
#[derive(Debug, Clone, Serialize)]
pub struct QueryStats {
    pub query_id: String,
    pub bytes_scanned: u64,
    /// What Athena charges for the scan: bytes rounded up to a MiB, at least
    /// 10 MiB, at [`PRICE_PER_TB_USD`] per TiB.
    #[serde(serialize_with = "money::serialize_usd")]
    pub cost_usd: Money,
    pub seconds: f64,
    /// What the UNLOAD wrote (the Parquet files the task reads).
    pub unloaded_bytes: u64,
}

/// Athena's list price per TB scanned (SQL queries, all commercial regions).
pub const PRICE_PER_TB_USD: i128 = 5;

/// What a scan of `bytes` costs (exact: an integer of 1e-10 USD, half-to-even).
pub fn scan_cost(bytes: u64) -> Money {
    const MIB: u128 = 1 << 20;
    let billed = (bytes as u128).div_ceil(MIB).max(10) * MIB;
    let numerator = billed * (PRICE_PER_TB_USD * money::ONE_USD) as u128;
    let tib = 1u128 << 40;
    let (q, r) = (numerator / tib, numerator % tib);
    let up = r * 2 > tib || (r * 2 == tib && q % 2 == 1);
    (q + u128::from(up)) as Money
}

/// The columns and partition keys of a table, as Glue has them.
#[derive(Debug, Clone, Default)]
pub struct TableShape {
    /// (name, Hive type), lower case.
    pub columns: Vec<(String, String)>,
    pub partition_keys: Vec<String>,
}

/// The prefix of what a query leaves in the results location
/// (`<id>-manifest.csv`, `<id>.metadata`): `results/<id>`, no `/`.
fn query_results(plan: &AthenaPlan, query_id: &str) -> Option<Location> {
    let results = plan.output_location.join(&format!("results/{query_id}"));
    let Location::S3 { key, .. } = &results else {
        return None;
    };
    // Athena's ids are UUIDs; anything else is not trusted as a prefix to delete.
    let id_ok = !query_id.is_empty()
        && query_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && !key.is_empty()).then_some(results)
}

/// The files an UNLOAD wrote under `target`. Athena names them
/// `<query>_<uuid>` with no extension and lists them in a data manifest in
/// the results location (`Statistics.DataManifestLocation`); the manifest is
/// read when there is one (every file it names must be under `target`),
/// otherwise every object under `target` is, whatever its name.
fn unloaded_files(store: &Store, target: &Location, manifest: Option<&str>) -> Result<Vec<Object>> {
    let Location::S3 { bucket, key } = target else {
        return Err(Error::config("the UNLOAD target must be an s3:// location"));
    };
    let prefix = format!("{key}/");
    let listed: Vec<Object> = store
        .list_keys(bucket, &prefix)?
        .into_iter()
        .filter(|(k, _, _)| !k.ends_with('/'))
        .map(|(k, _, size)| Object {
            version: String::new(),
            location: Location::S3 {
                bucket: bucket.clone(),
                key: k,
            },
            size,
        })
        .collect();
    let Some(manifest) = manifest.filter(|m| !m.is_empty()) else {
        return Ok(listed);
    };
    let Ok(Location::S3 {
        bucket: manifest_bucket,
        key: manifest_key,
    }) = Location::parse(manifest)
    else {
        return Err(Error::input(manifest, "data manifest: not an s3:// URL"));
    };
    let size = store
        .list_keys(&manifest_bucket, &manifest_key)?
        .into_iter()
        .find(|(k, _, _)| *k == manifest_key)
        .map(|(_, _, size)| size)
        .ok_or_else(|| Error::input(manifest, "data manifest: no such object"))?;
    let object = Object {
        version: String::new(),
        location: Location::S3 {
            bucket: manifest_bucket,
            key: manifest_key,
        },
        size,
    };
    let mut text = String::new();
    store
        .open(&object)?
        .read_to_string(&mut text)
        .map_err(|e| Error::input(manifest, format!("data manifest: unreadable: {e}")))?;
    let mut files = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let found = listed.iter().find(|o| o.location.to_string() == line);
        match found {
            Some(object) => files.push(object.clone()),
            None => {
                return Err(Error::input(
                    manifest,
                    format!("data manifest names {line}, which is not an object under {target}/"),
                ));
            }
        }
    }
    Ok(files)
}

/// The table's columns and partition keys (Glue `GetTable`).
pub fn table_shape(aws: &Aws, plan: &AthenaPlan) -> Result<TableShape> {
    let what = format!("glue table {}.{}", plan.database, plan.table);
    let glue = aws_sdk_glue::Client::new(&aws.config);
    let got = aws.runtime.block_on(
        glue.get_table()
            .database_name(&plan.database)
            .name(&plan.table)
            .send(),
    );
    let table = match got {
        Ok(out) => out.table,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_not_found_exception()) =>
        {
            return Err(Error::input(what, "no such table in the Glue catalog"));
        }
        Err(e) => {
            return Err(Error::Storage {
                what,
                message: describe(&e),
            });
        }
    };
    let table = table.ok_or_else(|| Error::input(what.clone(), "GetTable returned no table"))?;
    let columns = table
        .storage_descriptor()
        .map(|sd| sd.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c.name().to_ascii_lowercase(),
                c.r#type().unwrap_or_default().to_ascii_lowercase(),
            )
        })
        .collect();
    let partition_keys = table
        .partition_keys()
        .iter()
        .map(|c| c.name().to_ascii_lowercase())
        .collect();
    Ok(TableShape {
        columns,
        partition_keys,
    })
}

/// Athena error codes retried with backoff.
fn throttled(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ThrottlingException" | "TooManyRequestsException")
    )
}

/// Calls the API, retrying throttling with jittered backoff.
async fn with_retries<T, E, F, Fut>(what: &str, mut call: F) -> Result<T>
where
    E: std::error::Error + aws_sdk_athena::error::ProvideErrorMetadata + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if throttled(e.code()) && attempt < 10 => {
                attempt += 1;
                tokio::time::sleep(crate::storage::backoff(attempt)).await;
            }
            Err(e) => {
                return Err(Error::Storage {
                    what: what.to_string(),
                    message: describe(&e),
                });
            }
        }
    }
}

/// Set when SIGINT or SIGTERM arrives; a running query is stopped, otherwise
/// the process exits as it would have without the handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static QUERY_RUNNING: AtomicBool = AtomicBool::new(false);

fn watch_signals(aws: &Aws) -> &'static tokio::sync::Notify {
    static NOTIFY: OnceLock<tokio::sync::Notify> = OnceLock::new();
    static WATCHING: OnceLock<()> = OnceLock::new();
    let notify = NOTIFY.get_or_init(tokio::sync::Notify::new);
    WATCHING.get_or_init(|| {
        aws.runtime.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                let code = tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                };
                INTERRUPTED.store(true, Ordering::SeqCst);
                if !QUERY_RUNNING.load(Ordering::SeqCst) {
                    std::process::exit(code);
                }
                NOTIFY.get().expect("set").notify_waiters();
            }
        });
    });
    notify
}

/// A FAILED or CANCELLED query's error: Athena's own message and category,
/// exit 3 when Athena calls it a user error (a missing table), 1 otherwise.
fn query_failed(
    what: String,
    status: Option<&aws_sdk_athena::types::QueryExecutionStatus>,
) -> Error {
    let error = status.and_then(|s| s.athena_error());
    let reason = status
        .and_then(|s| s.state_change_reason())
        .or_else(|| error.and_then(|e| e.error_message()))
        .unwrap_or("no reason given");
    // Athena's categories: 1 system, 2 user, 3 other.
    let category = error.and_then(|e| e.error_category());
    let message = format!(
        "{:?}: {reason} (error category {})",
        status
            .and_then(|s| s.state())
            .map(|s| s.as_str().to_string()),
        match category {
            Some(1) => "SYSTEM",
            Some(2) => "USER",
            _ => "OTHER",
        }
    );
    if category == Some(2) {
        Error::input(what, message)
    } else {
        Error::Storage { what, message }
    }
}

/// Starts the query, polls it (0.5 s growing to 5 s) and stops it on timeout
/// or interruption. A FAILED query is exit 3 when Athena calls it a user error.
/// Returns what the query did and its data manifest's location, when Athena gives one.
fn run_query(
    aws: &Aws,
    plan: &AthenaPlan,
    sql: &str,
    token: &str,
) -> Result<(QueryStats, Option<String>)> {
    let client = aws_sdk_athena::Client::new(&aws.config);
    let notify = watch_signals(aws);
    let started = Instant::now();
    QUERY_RUNNING.store(true, Ordering::SeqCst);
    let outcome = aws.runtime.block_on(async {
        let results = plan.output_location.join("results").to_string() + "/";
        let start = with_retries("athena StartQueryExecution", || {
            client
                .start_query_execution()
                .query_string(sql)
                .work_group(&plan.workgroup)
                .client_request_token(token)
                .result_configuration(
                    ResultConfiguration::builder()
                        .output_location(&results)
                        .build(),
                )
                .send()
        })
        .await?;
        let id = start.query_execution_id().unwrap_or_default().to_string();
        let what = format!("athena query {id}");
        let mut wait = Duration::from_millis(500);
        loop {
            let interrupted = INTERRUPTED.load(Ordering::SeqCst);
            let timed_out = started.elapsed() >= plan.query_timeout;
            if interrupted || timed_out {
                let _ = with_retries("athena StopQueryExecution", || {
                    client.stop_query_execution().query_execution_id(&id).send()
                })
                .await;
                return Err(Error::Storage {
                    what,
                    message: if interrupted {
                        "interrupted; the query was stopped".to_string()
                    } else {
                        format!(
                            "still running after query_timeout_s = {}; the query was stopped",
                            plan.query_timeout.as_secs()
                        )
                    },
                });
            }
            let got = with_retries("athena GetQueryExecution", || {
                client.get_query_execution().query_execution_id(&id).send()
            })
            .await?;
            let execution = got.query_execution();
            let status = execution.and_then(|q| q.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    let statistics = execution.and_then(|q| q.statistics());
                    let bytes = statistics
                        .and_then(|s| s.data_scanned_in_bytes())
                        .unwrap_or(0)
                        .max(0) as u64;
                    let manifest = statistics
                        .and_then(|s| s.data_manifest_location())
                        .map(str::to_string);
                    let stats = QueryStats {
                        query_id: id,
                        bytes_scanned: bytes,
                        cost_usd: scan_cost(bytes),
                        seconds: started.elapsed().as_secs_f64(),
                        unloaded_bytes: 0,
                    };
                    return Ok((stats, manifest));
                }
                Some(QueryExecutionState::Failed | QueryExecutionState::Cancelled) => {
                    return Err(query_failed(what, status));
                }
                _ => {}
            }
            let left = plan.query_timeout.saturating_sub(started.elapsed());
            tokio::select! {
                _ = tokio::time::sleep(wait.min(left)) => {}
                _ = notify.notified() => {}
            }
            wait = (wait * 3 / 2).min(Duration::from_secs(5));
        }
    });
    QUERY_RUNNING.store(false, Ordering::SeqCst);
    if INTERRUPTED.load(Ordering::SeqCst) {
        // The signal arrived during the query: it is stopped; end as interrupted.
        return outcome.and(Err(Error::Storage {
            what: "athena".into(),
            message: "interrupted".into(),
        }));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cost_is_billed_per_mib_with_a_10_mib_minimum() {
        assert_eq!(scan_cost(0), scan_cost(10 << 20));
        // 1 TiB at $5.
        assert_eq!(scan_cost(1 << 40), 5 * money::ONE_USD);
        // 10 MiB: 5 * 10 / 2^20 USD = 0.0000476837158203125 -> 0.0000476837.
        assert_eq!(money::format_usd(scan_cost(1)), "0.0000476837");
    }
}
