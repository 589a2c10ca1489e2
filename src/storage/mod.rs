//! Storage addressed by URL (SPEC 2.6): a [`Location`] is a local path or an
//! `s3://` prefix, and the [`Store`] lists and reads both the same way.

mod local;
mod location;
mod parquet_source;
mod s3;
mod store;
mod unreadable;

pub use location::{Listing, Location, Object};
pub use parquet_source::ParquetSource;
pub use s3::{Aws, RemoteFile};
pub(crate) use s3::{backoff, describe};
pub use store::{Chunks, Store};
pub use unreadable::{MarkUnreadable, Unreadable};
