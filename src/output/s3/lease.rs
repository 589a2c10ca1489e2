//! The lease on (root, day) (SPEC 5.1 "one writer per day"): an object
//! created with `If-None-Match: *`, taken over with `If-Match` once expired,
//! renewed by a heartbeat while its run lives.

use std::collections::BTreeSet;
use std::sync::PoisonError;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{bucket_of, get_if_exists, lease_key, list_keys, s3_err};
use crate::config::Output;
use crate::failpoint::crash_point;
use crate::storage::{Store, describe};
use crate::{Error, Result};

/// The lease object's body.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LeaseBody {
    pub(super) run_id: String,
    pub(super) expires_at: i64,
}

/// A held lease on (root, day), kept alive by a heartbeat for as long as the
/// run lives and released on [`Lease::release`]; a crashed holder's lease
/// expires after `lease_seconds`.
///
/// The heartbeat renews the lease (`If-Match` on its ETag) every third of
/// `lease_seconds`. Before every step that must not overlap another writer
/// the run calls [`Lease::ensure`], which renews at once when less than a
/// third is left, and fails when the lease was taken over ([`Error::Held`],
/// naming the new holder) or cannot be renewed: the run then stops rather
/// than write over a day someone else may hold.
pub struct Lease {
    pub(super) renewer: Renewer,
    pub(super) date: NaiveDate,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) heartbeat: Option<tokio::task::JoinHandle<()>>,
}

/// What renews a lease: shared by the heartbeat and the run, one renewal at
/// a time (two with the same ETag would make the second look taken over).
#[derive(Clone)]
pub(super) struct Renewer {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    run_id: String,
    seconds: u64,
    state: std::sync::Arc<std::sync::Mutex<LeaseState>>,
    one_at_a_time: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Where a lease stands.
pub(super) struct LeaseState {
    etag: String,
    /// When the lease runs out unless renewed (the last renewal's request
    /// time, plus `lease_seconds`).
    valid_until: std::time::Instant,
    /// Set when a renewal found the lease taken over: the new holder.
    lost_to: Option<String>,
    /// The last renewal's error, while renewals fail.
    failing: Option<String>,
}

impl Renewer {
    fn state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Renews the lease once; afterwards the state says how it went.
    async fn renew(&self) {
        let _one = self.one_at_a_time.lock().await;
        if self.state().lost_to.is_some() {
            return;
        }
        let etag = self.state().etag.clone();
        let requested = std::time::Instant::now();
        let renewed = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_match(&etag)
            .body(ByteStream::from(lease_body(&self.run_id, self.seconds)))
            .send()
            .await;
        match renewed {
            Ok(out) => {
                let mut state = self.state();
                state.etag = out.e_tag().unwrap_or_default().to_string();
                state.valid_until = requested + std::time::Duration::from_secs(self.seconds);
                state.failing = None;
                drop(state);
                crash_point!("lease::renewed");
            }
            Err(e) if precondition_failed(&e) => {
                let holder = current_holder(&self.s3, &self.bucket, &self.key).await;
                self.state().lost_to = Some(holder);
            }
            // Tried again at the next beat; the lease still runs.
            Err(e) => self.state().failing = Some(describe(&e)),
        }
    }

    /// Renews every third of the lease's life until it is lost (or aborted).
    async fn heartbeat(self) {
        let period = std::time::Duration::from_millis(self.seconds * 1000 / 3);
        loop {
            tokio::time::sleep(period).await;
            self.renew().await;
            if self.state().lost_to.is_some() {
                return;
            }
        }
    }
}

pub(super) fn lease_body(run_id: &str, seconds: u64) -> Vec<u8> {
    serde_json::to_vec(&LeaseBody {
        run_id: run_id.to_string(),
        expires_at: Utc::now().timestamp() + seconds as i64,
    })
    .expect("serializable")
}

/// Whether an S3 error is a failed precondition (another writer got there
/// first), or the conditional write found no object (the lease was taken
/// over and released meanwhile).
pub(super) fn precondition_failed<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| {
            c == "PreconditionFailed" || c == "ConditionalRequestConflict" || c == "NoSuchKey"
        })
}

/// How long a lease lives: `[output] lease_seconds` (the tests shorten it
/// with the `lease::seconds` failpoint, compiled in only for them).
pub(super) fn lease_seconds(output: &Output) -> u64 {
    #[cfg(feature = "failpoints")]
    if let Some(Some(seconds)) =
        fail::eval("lease::seconds", |arg| arg.and_then(|a| a.parse().ok()))
    {
        return seconds;
    }
    output.lease_seconds
}

/// The run named by the lease object now, for an error that names the holder.
pub(super) async fn current_holder(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let got = s3.get_object().bucket(bucket).key(key).send().await;
    let body = match got {
        Ok(out) => out.body.collect().await.ok().map(|b| b.into_bytes()),
        Err(_) => None,
    };
    body.and_then(|b| serde_json::from_slice::<LeaseBody>(&b).ok())
        .map_or_else(
            || "another run (which has released the lease since)".to_string(),
            |l| l.run_id,
        )
}

/// Creates the day's lease (`If-None-Match: *`), or takes over an expired one
/// (`If-Match` on its ETag); a live lease of another run is [`Error::Held`].
/// The lease is renewed in the background until released.
pub fn acquire(store: &Store, output: &Output, date: NaiveDate, run_id: &str) -> Result<Lease> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let key = lease_key(output, date);
    let url = format!("s3://{bucket}/{key}");
    let seconds = lease_seconds(output);
    let requested = std::time::Instant::now();
    let etag = aws.runtime.block_on(async {
        let created = aws
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(lease_body(run_id, seconds)))
            .send()
            .await;
        match created {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) if precondition_failed(&e) => {
                let current = aws.s3.get_object().bucket(bucket).key(&key).send().await;
                let current = current.map_err(|e| s3_err(&url, e))?;
                let held_etag = current.e_tag().unwrap_or_default().to_string();
                let body = current.body.collect().await.map_err(|e| s3_err(&url, e))?;
                let holder: Option<LeaseBody> = serde_json::from_slice(&body.into_bytes()).ok();
                let expired = holder
                    .as_ref()
                    .is_none_or(|h| h.expires_at <= Utc::now().timestamp());
                if !expired {
                    return Err(Error::Held {
                        date,
                        holder: holder.map(|h| h.run_id).unwrap_or_default(),
                        lock: url.clone().into(),
                    });
                }
                let taken = aws
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .if_match(&held_etag)
                    .body(ByteStream::from(lease_body(run_id, seconds)))
                    .send()
                    .await;
                match taken {
                    Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
                    Err(e) if precondition_failed(&e) => Err(Error::Held {
                        date,
                        holder: current_holder(&aws.s3, bucket, &key).await,
                        lock: url.clone().into(),
                    }),
                    Err(e) => Err(s3_err(&url, e)),
                }
            }
            Err(e) => Err(s3_err(&url, e)),
        }
    })?;
    let state = std::sync::Arc::new(std::sync::Mutex::new(LeaseState {
        etag,
        valid_until: requested + std::time::Duration::from_secs(seconds),
        lost_to: None,
        failing: None,
    }));
    let renewer = Renewer {
        s3: aws.s3.clone(),
        bucket: bucket.to_string(),
        key,
        run_id: run_id.to_string(),
        seconds,
        state,
        one_at_a_time: Default::default(),
    };
    // The `lease::heartbeat` failpoint turns the heartbeat off, for the tests.
    #[cfg(feature = "failpoints")]
    let beat = fail::eval("lease::heartbeat", |_| ()).is_none();
    #[cfg(not(feature = "failpoints"))]
    let beat = true;
    let heartbeat = beat.then(|| aws.runtime.spawn(renewer.clone().heartbeat()));
    Ok(Lease {
        renewer,
        date,
        runtime: aws.runtime.handle().clone(),
        heartbeat,
    })
}

impl Lease {
    /// Fails unless the lease is still this run's with at least a third of
    /// its life left (renewing it at once when less is): called before every
    /// step another writer must not overlap.
    pub fn ensure(&self) -> Result<()> {
        let third = std::time::Duration::from_secs(self.renewer.seconds) / 3;
        let left = || {
            (self.renewer.state().valid_until).saturating_duration_since(std::time::Instant::now())
        };
        if left() < third {
            self.runtime.block_on(self.renewer.renew());
        }
        let state = self.renewer.state();
        if let Some(holder) = &state.lost_to {
            return Err(Error::Held {
                date: self.date,
                holder: format!("{holder} (this run's lease expired and was taken over)"),
                lock: self.renewer.url().into(),
            });
        }
        drop(state);
        if left() < third {
            return Err(Error::Storage {
                what: self.renewer.url(),
                message: format!(
                    "the lease could not be renewed ({}); stopping before another run may take the day over",
                    (self.renewer.state().failing.clone())
                        .unwrap_or_else(|| "no renewal succeeded in time".into())
                ),
            });
        }
        Ok(())
    }

    /// Stops the heartbeat (between renewals) and deletes the lease if it is
    /// still this run's. A lease that cannot be deleted blocks the day's next
    /// run until it expires, so that is an error.
    pub fn release(mut self, store: &Store) -> Result<()> {
        let renewer = self.renewer.clone();
        let heartbeat = self.heartbeat.take();
        self.runtime.block_on(async {
            let _one = renewer.one_at_a_time.lock().await;
            if let Some(heartbeat) = heartbeat {
                heartbeat.abort();
            }
        });
        if renewer.state().lost_to.is_some() {
            return Ok(()); // another run's now
        }
        let aws = store.aws();
        let etag = renewer.state().etag.clone();
        let request = aws
            .s3
            .delete_object()
            .bucket(&renewer.bucket)
            .key(&renewer.key)
            .if_match(etag)
            .send();
        match aws.runtime.block_on(request) {
            Ok(_) => Ok(()),
            Err(e) if precondition_failed(&e) => Ok(()), // taken over meanwhile
            Err(e) => Err(Error::Storage {
                what: renewer.url(),
                message: format!(
                    "the lease could not be released ({}); the day's next run waits until it expires ({} s)",
                    describe(&e),
                    renewer.seconds
                ),
            }),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

/// A lease object under the root: its URL and body.
pub(super) type LeaseObject = (String, std::result::Result<LeaseBody, serde_json::Error>);

/// Every lease object under the root.
pub(super) fn leases(store: &Store, output: &Output) -> Result<Vec<LeaseObject>> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let mut found = Vec::new();
    for (k, _) in list_keys(store, output, "_leases/")? {
        let body = get_if_exists(aws, bucket, &k)?.unwrap_or_default();
        found.push((format!("s3://{bucket}/{k}"), serde_json::from_slice(&body)));
    }
    Ok(found)
}

/// The runs holding a lease that has not expired.
pub(super) fn live_runs(leases: &[LeaseObject]) -> BTreeSet<&str> {
    let now = Utc::now().timestamp();
    leases
        .iter()
        .filter_map(|(_, lease)| lease.as_ref().ok().filter(|l| l.expires_at > now))
        .map(|l| l.run_id.as_str())
        .collect()
}
