//! `costjob check`'s look at the inputs: each configured location listed and
//! one object of it read (the CUR's footer and columns, a log object's first
//! bytes), locally and on S3, so a path that points nowhere fails when it is
//! set, not at the nightly run.

use std::io::Read as _;

use chrono::NaiveDate;

use crate::config::{CurSource, RunPlan};
use crate::run::{self, cur_reading};
use crate::source::cur;
use crate::storage::{Location, Object, Store};

/// What was found at each input, or why it is not usable (`Err`: every
/// problem, each naming its location).
pub fn inputs(
    plan: &RunPlan,
    store: &Store,
    yesterday: NaiveDate,
) -> Result<Vec<String>, Vec<String>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    match cur_input(plan, store) {
        Ok(Some(line)) => found.push(line),
        Ok(None) => {}
        Err(problem) => problems.push(problem),
    }
    match logs_input(plan, store, yesterday) {
        Ok(line) => found.push(line),
        Err(problem) => problems.push(problem),
    }
    match logs_table(plan, store) {
        Ok(Some(line)) => found.push(line),
        Ok(None) => {}
        Err(problem) => problems.push(problem),
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// The CUR files: listed, and the first one's footer read with the columns
/// the engine requires checked. (The Athena engine's table is read by its
/// query; nothing to list here.)
fn cur_input(plan: &RunPlan, store: &Store) -> Result<Option<String>, String> {
    let CurSource::Files(location) = &plan.cur else {
        return Ok(None);
    };
    let at = |e: crate::Error| format!("[cur] path {location}: {e}");
    let files: Vec<Object> = (store.list(location).map_err(at)?.objects.into_iter())
        .filter(|o| o.location.to_string().ends_with(".parquet"))
        .collect();
    let Some(first) = files.first() else {
        return Err(format!(
            "[cur] path {location}: no CUR Parquet files (*.parquet) found"
        ));
    };
    // A day no row covers: the footer and the columns are read, no row group.
    let (_, rules) = cur_reading(plan);
    let never = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    cur::read_files(store, std::slice::from_ref(first), &(never..=never), &rules).map_err(at)?;
    Ok(Some(format!(
        "[cur] path {location}: {} Parquet files, {} read",
        files.len(),
        first.location
    )))
}

/// The logs of `yesterday` (or, when its dated prefix holds nothing yet,
/// of the path above the placeholders): listed, and one object's first
/// bytes read.
fn logs_input(plan: &RunPlan, store: &Store, yesterday: NaiveDate) -> Result<String, String> {
    let mut places: Vec<Location> = run::log_sources(plan, yesterday);
    if plan.logs_path.has_placeholders() {
        places.push(above_placeholders(&plan.logs_path));
    }
    for place in places {
        let listing = store
            .list(&place)
            .map_err(|e| format!("[logs] path {place}: {e}"))?;
        if let Some(object) = listing.objects.first() {
            let mut head = [0u8; 512];
            let read = store.open(object).and_then(|mut r| {
                r.read(&mut head)
                    .map_err(|e| crate::Error::unreadable(object.name(), &e))
            });
            read.map_err(|e| format!("[logs] path {place}: {e}"))?;
            return Ok(format!(
                "[logs] path {place}: {} objects, {} read",
                listing.objects.len(),
                object.location
            ));
        }
    }
    let which = if plan.logs_path.has_placeholders() {
        format!(" (for {yesterday}, nor under the path above its placeholders)")
    } else {
        String::new()
    };
    Err(format!(
        "[logs] path {}: no log object found{which}",
        plan.logs_path
    ))
}

/// The Athena log engine's table (SPEC 14): in the catalog, with its
/// partition key, and the field pointers its query can read.
fn logs_table(plan: &RunPlan, store: &Store) -> Result<Option<String>, String> {
    let Some(athena) = &plan.logs_athena else {
        return Ok(None);
    };
    let name = format!("[logs] table {}.{}", athena.database, athena.table);
    crate::source::logs::athena_fields(&plan.fields).map_err(|e| format!("{name}: {e}"))?;
    let shape = crate::source::athena::table_shape(store.aws(), athena)
        .map_err(|e| format!("{name}: {e}"))?;
    let columns: Vec<&str> = shape.columns.iter().map(|(c, _)| c.as_str()).collect();
    Ok(Some(format!(
        "{name}: columns {}, partitioned by {}",
        columns.join(", "),
        shape
            .partition_keys
            .first()
            .map_or("nothing (every object is read)", String::as_str)
    )))
}

/// The location above the first placeholder of a dated path
/// (`s3://logs/export/{date}` -> `s3://logs/export`).
fn above_placeholders(location: &Location) -> Location {
    let text = location.to_string();
    let cut = text.find('{').unwrap_or(text.len());
    let parent = text[..cut].trim_end_matches('/');
    Location::parse(parent).unwrap_or_else(|_| location.clone())
}
