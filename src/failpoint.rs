//! Named points for the tests (TiKV's `fail`), compiled in only with the
//! `failpoints` feature: crash points abort the process as a SIGKILL would,
//! pause points hold a run at a known step until the test lets it go.

/// A crash point: with the `failpoints` feature, `FAILPOINTS=<name>=return`
/// aborts the process there (no destructors, no flush: like a SIGKILL).
macro_rules! crash_point {
    ($name:expr) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |_| std::process::abort());
    };
}
pub(crate) use crash_point;

/// A pause point: with the `failpoints` feature,
/// `FAILPOINTS=pause::<name>=return(DIR)` makes the run create `DIR/reached`
/// there and wait until `DIR/go` exists, so a test can act (start a second
/// run, delete an object) while this one is held at a known step.
macro_rules! pause_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        if let Some(Some(dir)) = fail::eval(concat!("pause::", $name), |arg| arg) {
            $crate::failpoint::wait_at(std::path::Path::new(&dir));
        }
    };
}
pub(crate) use pause_point;

/// Marks `dir/reached` and waits for `dir/go` (at most ten minutes, then the
/// process aborts: a test that forgot to let it go fails rather than hangs).
#[cfg(feature = "failpoints")]
pub fn wait_at(dir: &std::path::Path) {
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join("reached"), std::process::id().to_string());
    let started = std::time::Instant::now();
    while !dir.join("go").exists() {
        if started.elapsed() > std::time::Duration::from_secs(600) {
            std::process::abort();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
