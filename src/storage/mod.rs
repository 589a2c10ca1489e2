//! Storage addressed by URL (SPEC 2.6): a [`Location`] is a local path or an
//! `s3://` prefix, and the [`Store`] lists and reads both the same way.

mod local;
mod location;
mod s3;
mod store;

pub use location::{Listing, Location, Object};
pub use s3::RemoteFile;
pub(crate) use s3::{backoff, describe};
pub use store::{Aws, Chunks, MarkUnreadable, ParquetSource, Store, Unreadable};
