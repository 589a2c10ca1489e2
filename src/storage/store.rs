//! The [`Store`]: lists and streams objects the same way for local files and
//! S3, so the sources see a plain `Read` whatever the bytes come from. The AWS
//! SDK (async) lives here and nowhere in the pure stages: one tokio runtime,
//! one S3 client, built on first use from the SDK's default credential chain
//! (`AWS_ENDPOINT_URL` points it at a local stand-in in tests).

use std::io::Read;
use std::sync::OnceLock;

use super::s3::{Aws, RemoteFile, s3_error};
use super::{Listing, Location, Object};
use crate::{Error, Result};

/// Access to local files and S3 objects; the S3 client is made on first use.
#[derive(Default)]
pub struct Store {
    aws: OnceLock<std::sync::Arc<Aws>>,
}

impl Store {
    /// The runtime and clients, built once (the SDK's default chain: environment,
    /// profile, ECS task role, instance profile; `AWS_ENDPOINT_URL`).
    pub fn aws(&self) -> &Aws {
        self.aws_shared_ref()
    }

    fn aws_shared(&self) -> std::sync::Arc<Aws> {
        self.aws_shared_ref().clone()
    }

    fn aws_shared_ref(&self) -> &std::sync::Arc<Aws> {
        self.aws.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("costjob-io")
                .enable_all()
                .build()
                .expect("a tokio runtime starts");
            let config = runtime.block_on(aws_config::load_defaults(
                aws_config::BehaviorVersion::latest(),
            ));
            let s3_config = aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build();
            std::sync::Arc::new(Aws {
                s3: aws_sdk_s3::Client::from_conf(s3_config),
                runtime,
                config,
            })
        })
    }

    /// Every object under `location` (a file, a directory searched recursively,
    /// or a prefix), sorted, and the names skipped (`.`/`_` names, non-regular files).
    pub fn list(&self, location: &Location) -> Result<Listing> {
        match location {
            Location::Local(path) => {
                let (files, skipped) = super::local::list_with_skipped(path)?;
                let objects = files
                    .into_iter()
                    .map(|(path, size, version)| Object {
                        location: Location::Local(path),
                        size,
                        version,
                    })
                    .collect();
                Ok(Listing {
                    objects,
                    skipped: skipped
                        .into_iter()
                        .map(|p| p.display().to_string())
                        .collect(),
                })
            }
            Location::S3 { bucket, key } => self.list_s3(bucket, key),
        }
    }

    /// [`Self::list`] of each location, one listing (in the locations' order).
    pub fn list_all(&self, locations: &[Location]) -> Result<Listing> {
        let mut all = Listing::default();
        for location in locations {
            let listing = self.list(location)?;
            all.objects.extend(listing.objects);
            all.skipped.extend(listing.skipped);
        }
        Ok(all)
    }

    fn list_s3(&self, bucket: &str, key: &str) -> Result<Listing> {
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        let mut listing = Listing::default();
        for (name, size, etag) in self.list_versions(bucket, &prefix)? {
            let relative = &name[prefix.len().min(name.len())..];
            let hidden = relative
                .split('/')
                .any(|part| part.starts_with('.') || part.starts_with('_'));
            if hidden {
                listing.skipped.push(format!("s3://{bucket}/{name}"));
            } else if !name.ends_with('/') {
                listing.objects.push(Object {
                    location: Location::S3 {
                        bucket: bucket.to_string(),
                        key: name,
                    },
                    size,
                    version: etag,
                });
            }
        }
        listing.objects.sort();
        Ok(listing)
    }

    /// Every key under an S3 prefix (ListObjectsV2, all pages): key, last
    /// modification (Unix seconds) and size.
    pub(crate) fn list_keys(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, i64, u64)>> {
        Ok((self.list_objects(bucket, prefix)?.into_iter())
            .map(|(key, modified, size, _)| (key, modified, size))
            .collect())
    }

    /// Every key under an S3 prefix with its size and ETag.
    fn list_versions(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64, String)>> {
        Ok((self.list_objects(bucket, prefix)?.into_iter())
            .map(|(key, _, size, etag)| (key, size, etag))
            .collect())
    }

    /// ListObjectsV2, all pages: key, last modification, size, ETag.
    fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, i64, u64, String)>> {
        let aws = self.aws();
        let url = format!("s3://{bucket}/{prefix}");
        aws.runtime.block_on(async {
            let mut keys = Vec::new();
            let mut pages = aws
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| s3_error(&url, e))?;
                for object in page.contents() {
                    if let Some(k) = object.key() {
                        keys.push((
                            k.to_string(),
                            object.last_modified().map_or(0, |t| t.secs()),
                            object.size().unwrap_or(0).max(0) as u64,
                            object.e_tag().unwrap_or_default().to_string(),
                        ));
                    }
                }
            }
            Ok(keys)
        })
    }

    /// Deletes `keys` of `bucket` (DeleteObjects, 1000 at a time).
    pub(crate) fn delete_keys(&self, bucket: &str, keys: &[String]) -> Result<()> {
        let aws = self.aws();
        for chunk in keys.chunks(1000) {
            let objects: Vec<_> = chunk
                .iter()
                .map(|k| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .expect("key set")
                })
                .collect();
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .expect("objects set");
            let request = aws.s3.delete_objects().bucket(bucket).delete(delete).send();
            aws.runtime
                .block_on(request)
                .map_err(|e| s3_error(&format!("s3://{bucket}"), e))?;
        }
        Ok(())
    }

    /// Streams an object: a local file, or an S3 object read in chunks by a
    /// background task (a bounded buffer, so memory does not grow with the
    /// object), resumed by a ranged GET where a transient error cut it.
    pub fn open(&self, object: &Object) -> Result<Box<dyn Read + Send>> {
        match &object.location {
            Location::Local(path) => {
                let file = std::fs::File::open(path).map_err(|e| Error::unreadable(path, &e))?;
                Ok(Box::new(file))
            }
            Location::S3 { bucket, key } => {
                Ok(super::s3::stream(self.aws(), bucket, key, object.size))
            }
        }
    }
}

/// Random access to a Parquet file for the CUR reader: the local file, or
/// ranged GETs of an S3 object (only the footer and the column chunks of the
/// row groups the day's statistics keep are fetched).
pub enum Chunks {
    Local(std::fs::File),
    S3(RemoteFile),
}

impl Store {
    /// A Parquet file's bytes, ready for `ParquetRecordBatchReaderBuilder`.
    pub fn chunk_reader(&self, object: &Object) -> Result<Chunks> {
        match &object.location {
            Location::Local(path) => std::fs::File::open(path)
                .map(Chunks::Local)
                .map_err(|e| Error::unreadable(path, &e)),
            Location::S3 { .. } => Ok(Chunks::S3(RemoteFile::new(self.aws_shared(), object))),
        }
    }
}
