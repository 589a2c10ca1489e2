//! The publish protocol of SPEC 5.1, as one trait: a day's tables replace the
//! published day at once, per table, whatever happens to the run. Two
//! implementations, [`super::local::LocalRoot`] (a directory) and
//! [`super::s3::S3Root`] (an `s3://` prefix read through the Glue catalog);
//! [`super::root`] picks one for an output root, and nothing else asks
//! where the output lives.

use chrono::NaiveDate;

use crate::Result;
use crate::config::Output;
use crate::sink::parquet::Parts;
use crate::storage::{Location, Store};

/// The run report's pseudo-table: published with the tables, before `reconciliation`.
pub const RUN_REPORTS: &str = "_run_reports";

/// An output root that publishes days. Its guarantees, which every
/// implementation keeps and the tests prove by killing a run at every step:
///
/// - **One writer per day.** [`Publisher::take`] gives a run the day until it
///   releases it or dies (a local `flock`; on S3 a lease created with a
///   conditional write, renewed by a heartbeat, taken over once expired). A
///   second run of a held day fails at once with [`crate::Error::Held`]
///   (exit 5), naming the holder, having written nothing.
/// - **Each table flips at once.** A reader of one table sees the old day or
///   the new one, never a mix, a partial file or no partition where there was
///   one: the tables are staged whole, then each swapped in by one atomic move
///   (a directory exchange; one Glue partition update).
/// - **The reconciliation flips last.** It is the day's commit record: its
///   `run_id` names the run every other table holds once a publish is complete.
/// - **A crash is repaired by the next run.** A publish is journaled before
///   its first flip; taking a day rolls an interrupted publish of it (and of
///   every other day whose hold is free) forward when its files are whole,
///   back otherwise.
/// - **No debris.** A run that fails removes what it staged; what a killed run
///   left is removed by a later one. Nothing is ever removed through a link,
///   nor while another run may still flip to it.
pub trait Publisher {
    /// Takes `date` for `run_id` (exit 5 when another run holds it) and
    /// repairs what interrupted publishes left, of this day and of the others
    /// whose hold is free.
    fn take<'a>(&'a self, date: NaiveDate, run_id: &str) -> Result<Taken<'a>>;

    /// What `costjob check` reports: interrupted publishes, debris of killed
    /// runs, leases that outlived their run (all repaired by the next run).
    fn inspect(&self) -> Result<Vec<String>>;

    /// Where `table`'s published partition of `date` is, if there is one.
    fn locate(&self, table: &str, date: NaiveDate) -> Result<Option<Location>>;
}

/// A day taken by a run: its hold, and the repairs taking it made (this day's
/// and the other days' whose hold was free), for the run's log.
pub struct Taken<'a> {
    pub hold: Box<dyn DayHold + 'a>,
    pub repaired: Vec<(NaiveDate, Recovery)>,
}

/// One day, held by one run from before its first write to after its last.
pub trait DayHold {
    /// Writes every table's parts (in publish order, `reconciliation` last)
    /// and the run report where no reader looks; on a failure, removes them.
    fn stage(&mut self, tables: Vec<(&'static str, Parts<'_>)>, report: &[u8]) -> Result<()>;

    /// Where this run's files of `tables` (each with its number of parts)
    /// are once published, the run report last: what the run report lists.
    fn files(&self, tables: &[(&str, usize)]) -> Vec<String>;

    /// Journals the staged tables, flips each in (`reconciliation` last)
    /// and cleans up.
    fn commit(&mut self) -> Result<()>;

    /// Gives the day back. A hold that cannot be released is an error: it
    /// would block the day's next run.
    fn release(self: Box<Self>) -> Result<()>;
}

/// What repairing one day did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The run whose interrupted publish was rolled forward.
    pub rolled_forward: Option<String>,
    /// The run whose interrupted publish was rolled back (incomplete files).
    pub rolled_back: Option<String>,
    /// Staging or superseded directories removed.
    pub debris_removed: usize,
}

/// The publisher of an output root: the one place that asks where it lives.
pub fn root<'a>(store: &'a Store, output: &'a Output) -> Box<dyn Publisher + 'a> {
    match &output.root {
        Location::Local(root) => Box::new(super::local::LocalRoot { root }),
        Location::S3 { .. } => Box::new(super::s3::S3Root { store, output }),
    }
}
