//! Publishing a day on a local output root (SPEC 5.1), as the state machine of
//! `docs/architecture.md`: **Locked** (an exclusive `flock` on (root, day)) ->
//! **Recovered** (an interrupted publish rolled forward or back, debris removed)
//! -> **Staged** (every table written and synced under `.dt=D.staging-<run>`) ->
//! **Journaled** (the intent, with every staged file and its size, written
//! atomically: from here a crash rolls forward) -> **Exchanged** (each table's
//! `dt=D` swapped with its staging in one `renameat2(RENAME_EXCHANGE)`,
//! `reconciliation` last: the day's commit record) -> **Finished** (journal and
//! superseded directories removed). Each transition has a failpoint of the
//! same name, so the tests can kill the process there.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::failpoint::crash_point;
use crate::output::{DayHold, Publisher, RUN_REPORTS, Recovery, Taken};
use crate::sink::parquet::Parts;
use crate::storage::Location;
use crate::{Error, Result};

/// The marker file inside every directory a run stages: which run wrote it.
/// Readers (Athena, Hive, Spark, [`crate::sink::parquet::read_partition`]) ignore `_` names.
const MARKER: &str = "_costjob_run";

/// Where a table's partition for `date` lives.
pub fn partition_dir(root: &Path, table: &str, date: NaiveDate) -> PathBuf {
    root.join(table).join(format!("dt={date}"))
}

fn staging_dir(root: &Path, table: &str, date: NaiveDate, run_id: &str) -> PathBuf {
    root.join(table)
        .join(format!(".dt={date}.staging-{run_id}"))
}

fn replaced_dir(root: &Path, table: &str, date: NaiveDate, run_id: &str) -> PathBuf {
    root.join(table)
        .join(format!(".dt={date}.replaced-{run_id}"))
}

fn journal_path(root: &Path, date: NaiveDate) -> PathBuf {
    root.join("_journal").join(format!("dt={date}.json"))
}

/// The exclusive right to publish one day under one root, held from the run's
/// first write to its last; the kernel releases it when the process dies.
/// Its file is removed when the run lets go of it (a killed run's stays, and
/// the next run takes it over).
#[derive(Debug)]
pub struct DayLock {
    file: File,
    path: PathBuf,
    pub date: NaiveDate,
}

impl Drop for DayLock {
    /// Unlinks the file while still holding its lock, then closes it: a run
    /// that opened the old file meanwhile finds, once it has the lock, that
    /// the path no longer names it, and starts again ([`lock_day`]).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = &self.file;
    }
}

/// Takes the lock of (root, day), or fails with [`Error::Held`] naming the holder.
pub fn lock_day(root: &Path, date: NaiveDate, run_id: &str) -> Result<DayLock> {
    use std::os::unix::fs::MetadataExt;
    let dir = root.join("_locks");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("dt={date}.lock"));
    loop {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Held {
                    date,
                    holder: holder.trim().to_string(),
                    lock: path,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Locked: but the holder before may have removed the file since it
        // was opened here; the lock is the one of the file the path names.
        let held = file.metadata().map_err(|e| Error::io(&path, e))?;
        match std::fs::metadata(&path) {
            Ok(named) if (named.dev(), named.ino()) == (held.dev(), held.ino()) => {}
            _ => continue,
        }
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.write_all(run_id.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        return Ok(DayLock { file, path, date });
    }
}

/// What a run intends to publish: written before the first exchange.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    run_id: String,
    date: NaiveDate,
    /// In exchange order; each table's part files with their sizes in bytes.
    tables: Vec<(String, Vec<(String, u64)>)>,
}

/// One table's finished files in its staging directory.
pub struct StagedTable {
    pub table: String,
    pub files: Vec<String>,
}

/// The run id in a directory's marker, if it has one.
fn marker(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(MARKER)).ok()
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Removes a directory tree; a link is removed itself, never followed
/// (`remove_dir_all` does not follow links).
fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

/// Whether `path` is a symbolic link (not followed).
fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether a directory entry exists at `path` (a link, dangling or not, counts).
fn entry_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Swaps two directory entries atomically (both must exist).
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
        .map_err(|e| Error::io(b, std::io::Error::from(e)))
}

/// Creates the staging directory of `table` for this run, marked with the run id.
pub fn create_staging(root: &Path, table: &str, date: NaiveDate, run_id: &str) -> Result<PathBuf> {
    let dir = staging_dir(root, table, date, run_id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    write_synced(&dir.join(MARKER), run_id.as_bytes())?;
    Ok(dir)
}

/// Removes what this run staged (after a failure before its journal).
pub fn discard_staging(root: &Path, tables: &[&str], date: NaiveDate, run_id: &str) {
    for table in tables {
        let _ = remove_dir(&staging_dir(root, table, date, run_id));
    }
}

/// Journals the staged tables, exchanges each in (in the given order, so the
/// last, `reconciliation`, commits the day), then cleans up. Requires the day's lock.
pub fn commit(
    root: &Path,
    date: NaiveDate,
    run_id: &str,
    staged: &[StagedTable],
    _lock: &DayLock,
) -> Result<()> {
    let mut tables = Vec::new();
    for t in staged {
        let dir = staging_dir(root, &t.table, date, run_id);
        let mut files = Vec::new();
        for name in &t.files {
            let path = dir.join(name);
            let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
            let size = f.metadata().map_err(|e| Error::io(&path, e))?.len();
            files.push((name.clone(), size));
        }
        sync_dir(&dir)?;
        tables.push((t.table.clone(), files));
    }
    crash_point!("publish::staged");
    let journal = Journal {
        run_id: run_id.to_string(),
        date,
        tables,
    };
    let path = journal_path(root, date);
    let dir = path.parent().expect("journal has a directory");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension(format!("json.{run_id}.tmp"));
    write_synced(
        &tmp,
        &serde_json::to_vec_pretty(&journal).expect("serializable"),
    )?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    crash_point!("publish::journaled");
    roll_forward(root, &journal)
}

/// Every table of the journal exchanged in (idempotent), then the journal and
/// the superseded directories removed.
fn roll_forward(root: &Path, journal: &Journal) -> Result<()> {
    let (date, run) = (journal.date, journal.run_id.as_str());
    for (table, _) in &journal.tables {
        exchange_in(root, table, date, run)?;
        crash_point!(&format!("publish::exchanged::{table}"));
    }
    let path = journal_path(root, date);
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    sync_dir(path.parent().expect("journal has a directory"))?;
    crash_point!("publish::committed");
    let replaced: Vec<PathBuf> = (journal.tables.iter())
        .map(|(table, _)| replaced_dir(root, table, date, run))
        .collect();
    remove_dirs(&replaced)
}

/// Removes directories (a run's superseded partitions), their files unlinked
/// in parallel first: the kernel frees a large file's cached pages as it is
/// unlinked, which takes a while for a large day's `transactions` files, and
/// files apart free apart.
fn remove_dirs(dirs: &[PathBuf]) -> Result<()> {
    use rayon::prelude::*;
    let mut files = Vec::new();
    for dir in dirs {
        // A superseded partition that was a symbolic link: the link goes, what
        // it points at is not ours and stays.
        if is_link(dir) {
            std::fs::remove_file(dir).map_err(|e| Error::io(dir, e))?;
            continue;
        }
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|e| Error::io(dir, e))?;
                    if entry.file_type().is_ok_and(|t| t.is_file()) {
                        files.push(entry.path());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
    files
        .par_iter()
        .try_for_each(|file| match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(file, e)),
            _ => Ok(()),
        })?;
    dirs.iter().try_for_each(|dir| remove_dir(dir))
}

/// Puts run `run`'s staging of `table` in place as `dt=D`; the previous partition
/// (if any) ends as `.dt=D.replaced-<run>`. Safe to repeat after a crash.
fn exchange_in(root: &Path, table: &str, date: NaiveDate, run: &str) -> Result<()> {
    let final_dir = partition_dir(root, table, date);
    let staging = staging_dir(root, table, date, run);
    let replaced = replaced_dir(root, table, date, run);
    if marker(&final_dir).as_deref() != Some(run) {
        // A partition that is a link is exchanged as a link: the entry moves,
        // its target is never entered.
        if entry_exists(&final_dir) {
            exchange(&staging, &final_dir)?;
        } else {
            std::fs::rename(&staging, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        }
    }
    // After an exchange the staging name holds the superseded partition.
    if entry_exists(&staging) {
        std::fs::rename(&staging, &replaced).map_err(|e| Error::io(&replaced, e))?;
    }
    sync_dir(&root.join(table))
}

/// Undoes the exchanges of an interrupted publish whose new files are
/// incomplete: each table gets back the partition it had before (or none).
fn roll_back(root: &Path, journal: &Journal) -> Result<()> {
    let (date, run) = (journal.date, journal.run_id.as_str());
    for (table, _) in journal.tables.iter().rev() {
        let final_dir = partition_dir(root, table, date);
        let staging = staging_dir(root, table, date, run);
        let replaced = replaced_dir(root, table, date, run);
        if marker(&final_dir).as_deref() == Some(run) {
            let old = [&replaced, &staging].into_iter().find(|d| entry_exists(d));
            match old {
                Some(old) => {
                    exchange(old, &final_dir)?;
                    remove_dir(old)?;
                }
                None => remove_dir(&final_dir)?,
            }
        }
        remove_dir(&staging)?;
        remove_dir(&replaced)?;
    }
    let path = journal_path(root, date);
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))
}

/// Whether every file the journal names is where the run left it, whole.
fn journal_complete(root: &Path, journal: &Journal) -> bool {
    let (date, run) = (journal.date, journal.run_id.as_str());
    journal.tables.iter().all(|(table, files)| {
        let final_dir = partition_dir(root, table, date);
        let dir = if marker(&final_dir).as_deref() == Some(run) {
            final_dir
        } else {
            staging_dir(root, table, date, run)
        };
        files
            .iter()
            .all(|(name, size)| std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == *size))
    })
}

fn read_journal(path: &Path) -> Option<Journal> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Finishes or undoes an interrupted publish of `date` and removes the debris of
/// killed runs. Requires the day's lock.
pub fn recover(root: &Path, date: NaiveDate, _lock: &DayLock) -> Result<Recovery> {
    let mut recovery = Recovery::default();
    let path = journal_path(root, date);
    if path.exists() {
        match read_journal(&path) {
            Some(journal) if journal_complete(root, &journal) => {
                roll_forward(root, &journal)?;
                recovery.rolled_forward = Some(journal.run_id);
            }
            Some(journal) => {
                roll_back(root, &journal)?;
                recovery.rolled_back = Some(journal.run_id);
            }
            // A journal that does not parse was never renamed into place whole
            // (it is written aside and renamed): it cannot happen short of disk
            // corruption, and then no exchange is trusted.
            None => {
                return Err(Error::input(
                    &path,
                    "the publish journal is unreadable; inspect and remove it by hand",
                ));
            }
        }
    }
    for dir in debris(root, Some(date))? {
        remove_dir(&dir)?;
        recovery.debris_removed += 1;
    }
    Ok(recovery)
}

/// Recovers every other day of the root that has an interrupted publish or
/// debris and whose lock is free (a day being published by a live run is left alone).
pub fn recover_others(
    root: &Path,
    except: NaiveDate,
    run_id: &str,
) -> Result<Vec<(NaiveDate, Recovery)>> {
    let mut done = Vec::new();
    for date in pending_days(root)? {
        if date == except {
            continue;
        }
        let lock = match lock_day(root, date, run_id) {
            Ok(lock) => lock,
            Err(Error::Held { .. }) => continue,
            Err(e) => return Err(e),
        };
        let recovery = recover(root, date, &lock)?;
        done.push((date, recovery));
    }
    Ok(done)
}

/// Days with a journal or with staging/superseded directories under `root`.
fn pending_days(root: &Path) -> Result<Vec<NaiveDate>> {
    let mut days: Vec<NaiveDate> = debris(root, None)?
        .iter()
        .filter_map(|d| debris_day(d))
        .collect();
    if let Ok(entries) = std::fs::read_dir(root.join("_journal")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(day) = name
                .strip_prefix("dt=")
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|d| d.parse().ok())
            {
                days.push(day);
            }
        }
    }
    days.sort();
    days.dedup();
    Ok(days)
}

fn debris_day(dir: &Path) -> Option<NaiveDate> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    name.strip_prefix(".dt=")?.get(..10)?.parse().ok()
}

/// Staging and superseded directories (`.dt=D.staging-*`, `.dt=D.replaced-*`)
/// under every table of `root`, of `date` or of any day.
fn debris(root: &Path, date: Option<NaiveDate>) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let tables = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(root, e)),
    };
    for table in tables.flatten() {
        let Ok(entries) = std::fs::read_dir(table.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.contains(".staging-") || name.contains(".replaced-");
            if ours && debris_day(&path).is_some_and(|d| date.is_none_or(|want| want == d)) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What `costjob check` reports about an output root: interrupted publishes
/// and staging left by killed runs (both repaired by the next run).
pub fn inspect(root: &Path) -> Result<Vec<String>> {
    let mut findings = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("_journal")) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            match read_journal(&path) {
                Some(j) => findings.push(format!(
                    "{}: interrupted publish of {} by run {} (the next run rolls it {})",
                    path.display(),
                    j.date,
                    j.run_id,
                    if journal_complete(root, &j) {
                        "forward"
                    } else {
                        "back"
                    }
                )),
                None => findings.push(format!("{}: unreadable publish journal", path.display())),
            }
        }
    }
    for dir in debris(root, None)? {
        findings.push(format!(
            "{}: left by a killed run (the next run removes it)",
            dir.display()
        ));
    }
    Ok(findings)
}

/// Stages every table (parts written in parallel) and the run report, for
/// [`commit`]: the first half of the local publish of one day. On a failure,
/// everything this run staged is removed.
pub fn stage(
    root: &Path,
    date: NaiveDate,
    run_id: &str,
    tables: Vec<(&'static str, Parts<'_>)>,
    report: &[u8],
) -> Result<Vec<StagedTable>> {
    let mut names: Vec<&str> = tables.iter().map(|(t, _)| *t).collect();
    names.insert(names.len() - 1, RUN_REPORTS);
    stage_local(root, date, run_id, tables, report).inspect_err(|_| {
        discard_staging(root, &names, date, run_id);
    })
}

fn stage_local(
    root: &Path,
    date: NaiveDate,
    run_id: &str,
    tables: Vec<(&'static str, Parts<'_>)>,
    report: &[u8],
) -> Result<Vec<StagedTable>> {
    use rayon::prelude::*;
    let mut staged = Vec::new();
    let mut jobs = Vec::new();
    for (table, parts) in tables {
        let dir = create_staging(root, table, date, run_id)?;
        let files: Vec<String> = (0..parts.len())
            .map(crate::sink::parquet::part_name)
            .collect();
        for (name, batches) in files.iter().zip(parts) {
            jobs.push((dir.join(name), batches));
        }
        staged.push(StagedTable {
            table: table.to_string(),
            files,
        });
    }
    jobs.into_par_iter()
        .map(|(path, batches)| crate::sink::parquet::write_file(&path, batches))
        .collect::<Result<Vec<()>>>()?;
    crash_point!("publish::staging");
    let dir = create_staging(root, RUN_REPORTS, date, run_id)?;
    write_synced(&dir.join("report.json"), report)?;
    let report_table = StagedTable {
        table: RUN_REPORTS.to_string(),
        files: vec!["report.json".to_string()],
    };
    // The reconciliation flips last: it is the day's commit record.
    let last = staged.len() - 1;
    staged.insert(last, report_table);
    Ok(staged)
}

/// A local output root: a directory, each table's day a `dt=D` directory
/// swapped in by one atomic exchange ([`Publisher`]'s guarantees).
pub struct LocalRoot<'a> {
    pub root: &'a Path,
}

/// A day held by a run on a local root: its lock, then what it staged.
struct LocalDay<'a> {
    root: &'a Path,
    date: NaiveDate,
    run_id: String,
    lock: DayLock,
    staged: Vec<StagedTable>,
}

impl Publisher for LocalRoot<'_> {
    fn take<'a>(&'a self, date: NaiveDate, run_id: &str) -> Result<Taken<'a>> {
        let lock = lock_day(self.root, date, run_id)?;
        crash_point!("run::locked");
        let mut repaired = vec![(date, recover(self.root, date, &lock)?)];
        repaired.extend(recover_others(self.root, date, run_id)?);
        let day = LocalDay {
            root: self.root,
            date,
            run_id: run_id.to_string(),
            lock,
            staged: Vec::new(),
        };
        Ok(Taken {
            hold: Box::new(day),
            repaired,
        })
    }

    fn inspect(&self) -> Result<Vec<String>> {
        inspect(self.root)
    }

    fn locate(&self, table: &str, date: NaiveDate) -> Result<Option<Location>> {
        let dir = partition_dir(self.root, table, date);
        Ok(entry_exists(&dir).then_some(Location::Local(dir)))
    }
}

impl DayHold for LocalDay<'_> {
    fn stage(&mut self, tables: Vec<(&'static str, Parts<'_>)>, report: &[u8]) -> Result<()> {
        self.staged = stage(self.root, self.date, &self.run_id, tables, report)?;
        Ok(())
    }

    fn files(&self, tables: &[(&str, usize)]) -> Vec<String> {
        let dir = |table: &str| partition_dir(self.root, table, self.date);
        (tables.iter())
            .flat_map(|(table, parts)| {
                let dir = dir(table);
                (0..*parts).map(move |i| dir.join(crate::sink::parquet::part_name(i)))
            })
            .chain([dir(RUN_REPORTS).join("report.json")])
            .map(|path| path.display().to_string())
            .collect()
    }

    fn commit(&mut self) -> Result<()> {
        commit(self.root, self.date, &self.run_id, &self.staged, &self.lock)
    }

    fn release(self: Box<Self>) -> Result<()> {
        Ok(()) // the lock goes with its file
    }
}
