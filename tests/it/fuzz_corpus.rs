//! Replays the corpus the fuzz targets built (`fuzz/corpus/<target>/`) through
//! the same checks (`fuzz/checks.rs`): every input that once found a defect,
//! and the coverage the fuzzer reached, stays an error or a counted skip,
//! never a panic. Fuzzing itself runs outside CI (`docs/fuzzing.md`).

#[path = "../../fuzz/checks.rs"]
mod checks;

use crate::helpers::repo;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = repo().join("fuzz/corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} panicked", path.display());
        inputs += 1;
    }
    assert!(inputs > 0, "{}: an empty corpus", dir.display());
}

#[test]
fn the_log_envelope_corpus_replays_without_a_panic() {
    replay("log_envelopes", checks::log_envelopes);
}

#[test]
fn the_cur_parquet_corpus_replays_without_a_panic() {
    replay("cur_parquet", checks::cur_parquet);
}
