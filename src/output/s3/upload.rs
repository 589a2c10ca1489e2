//! Writing a staged file straight to S3: one PUT when small, a multipart
//! upload otherwise, aborted when dropped unfinished.

use std::io::Write;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::keys::s3_err;
use crate::storage::{Aws, describe};
use crate::{Error, Result};

/// Parts of a multipart upload (S3's minimum is 5 MiB).
pub(super) const PART_BYTES: usize = 8 << 20;

/// A file written straight to S3: one PUT when small, a multipart upload
/// (8 MiB parts) otherwise; dropped unfinished, it aborts its upload.
pub struct S3Writer<'s> {
    aws: &'s Aws,
    bucket: String,
    key: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    written: u64,
}

impl<'s> S3Writer<'s> {
    pub fn new(aws: &'s Aws, bucket: &str, key: &str) -> Self {
        Self {
            aws,
            bucket: bucket.to_string(),
            key: key.to_string(),
            buffer: Vec::with_capacity(PART_BYTES),
            upload_id: None,
            parts: Vec::new(),
            written: 0,
        }
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn upload_part(&mut self) -> std::io::Result<()> {
        let (s3, bucket, key) = (&self.aws.s3, &self.bucket, &self.key);
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES));
        let number = self.parts.len() as i32 + 1;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = self
                    .aws
                    .runtime
                    .block_on(s3.create_multipart_upload().bucket(bucket).key(key).send())
                    .map_err(|e| std::io::Error::other(describe(&e)))?;
                let id = created.upload_id().unwrap_or_default().to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let part = self
            .aws
            .runtime
            .block_on(
                s3.upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(body))
                    .send(),
            )
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    /// Completes the object; returns its size.
    pub fn finish(mut self) -> Result<u64> {
        let url = self.url();
        let (s3, bucket, key) = (self.aws.s3.clone(), self.bucket.clone(), self.key.clone());
        match self.upload_id.clone() {
            None => {
                let body = std::mem::take(&mut self.buffer);
                self.aws
                    .runtime
                    .block_on(
                        s3.put_object()
                            .bucket(&bucket)
                            .key(&key)
                            .body(ByteStream::from(body))
                            .send(),
                    )
                    .map_err(|e| s3_err(&url, e))?;
            }
            Some(id) => {
                if !self.buffer.is_empty() {
                    self.upload_part().map_err(|e| Error::Storage {
                        what: url.clone(),
                        message: e.to_string(),
                    })?;
                }
                let parts = std::mem::take(&mut self.parts);
                self.aws
                    .runtime
                    .block_on(
                        s3.complete_multipart_upload()
                            .bucket(&bucket)
                            .key(&key)
                            .upload_id(&id)
                            .multipart_upload(
                                CompletedMultipartUpload::builder()
                                    .set_parts(Some(parts))
                                    .build(),
                            )
                            .send(),
                    )
                    .map_err(|e| s3_err(&url, e))?;
                self.upload_id = None;
            }
        }
        Ok(self.written)
    }
}

impl Write for S3Writer<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = PART_BYTES - self.buffer.len();
        let n = data.len().min(room);
        self.buffer.extend_from_slice(&data[..n]);
        self.written += n as u64;
        if self.buffer.len() == PART_BYTES {
            self.upload_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for S3Writer<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.upload_id.take() {
            let request = self
                .aws
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id)
                .send();
            let _ = self.aws.runtime.block_on(request);
        }
    }
}
