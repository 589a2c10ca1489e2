//! The Glue side of an S3 root: each table's storage descriptor and the
//! location its `dt=D` partition points at, moved by one call.

use aws_sdk_glue::types::{BatchUpdatePartitionRequestEntry, PartitionInput, StorageDescriptor};
use chrono::NaiveDate;

use super::keys::s3_err;
use crate::config::Output;
use crate::storage::{Aws, Location, Store};
use crate::{Error, Result};

/// The Glue side: the table's storage descriptor and the partition's location.
pub(super) struct Catalog<'a> {
    pub(super) aws: &'a Aws,
    pub(super) glue: aws_sdk_glue::Client,
    pub(super) database: &'a str,
}

impl<'a> Catalog<'a> {
    pub(super) fn new(store: &'a Store, output: &'a Output) -> Self {
        let aws = store.aws();
        Self {
            aws,
            glue: aws_sdk_glue::Client::new(&aws.config),
            database: output.glue_database.as_deref().unwrap_or_default(),
        }
    }

    pub(super) fn what(&self, table: &str) -> String {
        format!("glue table {}.{table}", self.database)
    }

    pub(super) fn table_descriptor(&self, table: &str) -> Result<StorageDescriptor> {
        let got = self
            .aws
            .runtime
            .block_on(
                self.glue
                    .get_table()
                    .database_name(self.database)
                    .name(table)
                    .send(),
            )
            .map_err(|e| s3_err(&self.what(table), e))?;
        got.table()
            .and_then(|t| t.storage_descriptor())
            .cloned()
            .ok_or_else(|| Error::Storage {
                what: self.what(table),
                message: "has no storage descriptor".into(),
            })
    }

    /// The location the `dt=date` partition points at, if it exists.
    pub(super) fn partition_location(
        &self,
        table: &str,
        date: NaiveDate,
    ) -> Result<Option<String>> {
        let got = self.aws.runtime.block_on(
            self.glue
                .get_partition()
                .database_name(self.database)
                .table_name(table)
                .partition_values(date.to_string())
                .send(),
        );
        match got {
            Ok(out) => Ok(out
                .partition()
                .and_then(|p| p.storage_descriptor())
                .and_then(|sd| sd.location())
                .map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(s3_err(&self.what(table), e)),
        }
    }

    /// Points the `dt=date` partition at `location` (created if absent): one
    /// Glue call, so readers see the old location or the new one.
    pub(super) fn point(
        &self,
        table: &str,
        date: NaiveDate,
        location: &str,
        exists: bool,
    ) -> Result<()> {
        let mut descriptor = self.table_descriptor(table)?;
        descriptor.location = Some(location.to_string());
        let input = PartitionInput::builder()
            .values(date.to_string())
            .storage_descriptor(descriptor)
            .build();
        let what = self.what(table);
        let errors: Vec<String> = if exists {
            let entry = BatchUpdatePartitionRequestEntry::builder()
                .partition_value_list(date.to_string())
                .partition_input(input)
                .build()
                .map_err(|e| s3_err(&what, e))?;
            let out = self
                .aws
                .runtime
                .block_on(
                    self.glue
                        .batch_update_partition()
                        .database_name(self.database)
                        .table_name(table)
                        .entries(entry)
                        .send(),
                )
                .map_err(|e| s3_err(&what, e))?;
            out.errors()
                .iter()
                .map(|e| format!("{:?}", e.error_detail()))
                .collect()
        } else {
            let out = self
                .aws
                .runtime
                .block_on(
                    self.glue
                        .batch_create_partition()
                        .database_name(self.database)
                        .table_name(table)
                        .partition_input_list(input)
                        .send(),
                )
                .map_err(|e| s3_err(&what, e))?;
            out.errors()
                .iter()
                .map(|e| format!("{:?}", e.error_detail()))
                .collect()
        };
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Storage {
                what,
                message: format!("partition dt={date}: {}", errors.join("; ")),
            })
        }
    }
}

/// Where a table's `date` partition points now (the Glue catalog's answer).
pub fn published_location(
    store: &Store,
    output: &Output,
    table: &str,
    date: NaiveDate,
) -> Result<Option<Location>> {
    let catalog = Catalog::new(store, output);
    let Some(location) = catalog.partition_location(table, date)? else {
        return Ok(None);
    };
    Location::parse(location.trim_end_matches('/'))
        .map(Some)
        .map_err(|message| Error::Storage {
            what: catalog.what(table),
            message: format!("partition dt={date} points at {location}: {message}"),
        })
}
