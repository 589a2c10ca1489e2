//! Configuration (SPEC 7): `costjob.toml`'s shape, `COSTJOB_*` overrides, and
//! validation into a [`RunPlan`] before any data I/O; the CUR columns read;
//! the day arguments of the command line.

mod cur_columns;
mod dates;
mod env;
mod file;
mod load;
mod plan;

pub use cur_columns::{
    COST_COLUMNS, OPTIONAL, REQUIRED, USAGE_ACCOUNT, USAGE_END, USAGE_START, tag_column,
};
pub use dates::parse_day;
pub use file::{
    AllocationSection, ConfigFile, CurSection, FieldsSection, FlowEntry, LogsSection,
    MAX_LEASE_SECONDS, MAX_RETAIN_SUPERSEDED_HOURS, MIN_LEASE_SECONDS, OutputSection,
    PricingSection, TagsSection,
};
pub use load::{is_identifier, load};
pub use plan::{AthenaPlan, CurSource, LogFormat, Output, Overrides, RunPlan, TagColumns};
