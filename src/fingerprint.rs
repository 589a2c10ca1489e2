//! What produced a published day (SPEC 12.2): SHA-256 fingerprints of the
//! day's CUR as the allocation reads it and of its log objects' listing,
//! recorded in the `reconciliation` row and compared by `costjob refresh`
//! to decide whether a day must be run again.

use sha2::{Digest, Sha256};

use crate::config::RunPlan;
use crate::model::money::format_usd;
use crate::model::{CurDay, Fingerprints};
use crate::pricing::Pricing;
use crate::storage::Object;

/// What produced a day run with `plan`, from the day's CUR and log listing
/// fingerprints and whether its CUR is final.
pub fn of_run(plan: &RunPlan, cur: String, logs: &str, cur_final: bool) -> Fingerprints {
    Fingerprints {
        cur,
        logs: logs.to_string(),
        pricing: plan.pricing.sha256.clone(),
        config: plan.config_sha256.clone(),
        cur_final,
    }
}

/// The fingerprint of everything the allocation reads from a day's CUR: its
/// pools (product, rule, tags, cost), its excluded and out-of-scope amounts,
/// its row count and how many rows are not invoiced yet. Rules are named by
/// id, so a pricing change that keeps the rules leaves it as it was.
pub fn cur(day: &CurDay, pricing: &Pricing) -> String {
    let mut pools: Vec<String> = (day.pools.iter())
        .map(|(key, cost)| {
            format!(
                "pool\t{}\t{}\t{}\t{}\t{}\t{}",
                key.product_code,
                pricing.rule(key.rule).id,
                key.tag_transaction_type.as_deref().unwrap_or("\u{0}"),
                key.tag_flow.as_deref().unwrap_or("\u{0}"),
                key.tag_service.as_deref().unwrap_or("\u{0}"),
                format_usd(*cost)
            )
        })
        .collect();
    pools.sort_unstable();
    let mut hash = Sha256::new();
    for line in pools {
        hash.update(line.as_bytes());
        hash.update(b"\n");
    }
    for (ty, cost) in &day.excluded {
        hash.update(format!("excluded\t{ty}\t{}\n", format_usd(*cost)).as_bytes());
    }
    for (account, cost) in &day.out_of_scope {
        hash.update(format!("out_of_scope\t{account}\t{}\n", format_usd(*cost)).as_bytes());
    }
    hash.update(format!("rows\t{}\t{}\n", day.rows, day.rows_without_invoice).as_bytes());
    hex(hash)
}

/// The fingerprint of a day's log objects: each one's name, size and
/// version (S3 ETag, file modification time), in name order. A late
/// object, a rewritten one or a deleted one changes it.
pub fn logs(objects: &[Object]) -> String {
    let mut listed: Vec<&Object> = objects.iter().collect();
    listed.sort_by(|a, b| a.location.cmp(&b.location));
    let mut hash = Sha256::new();
    for object in listed {
        hash.update(
            format!("{}\t{}\t{}\n", object.location, object.size, object.version).as_bytes(),
        );
    }
    hex(hash)
}

fn hex(hash: Sha256) -> String {
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Line, PoolKey, RuleRef};
    use crate::storage::Location;

    fn key(product: &str) -> PoolKey {
        PoolKey {
            product_code: product.into(),
            rule: RuleRef { model: 0, rule: 0 },
            tag_transaction_type: None,
            tag_flow: None,
            tag_service: None,
        }
    }

    #[test]
    fn the_cur_fingerprint_moves_with_every_input_the_allocation_reads() {
        let pricing =
            Pricing::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pricing"))
                .unwrap();
        let mut day = CurDay::default();
        day.add(Line::Pool(key("AmazonECS")), "Usage", 10, true);
        day.add(Line::Excluded, "Tax", 3, true);
        let base = cur(&day, &pricing);
        assert_eq!(base, cur(&day.clone(), &pricing), "deterministic");
        let changed = |f: &dyn Fn(&mut CurDay)| {
            let mut d = day.clone();
            f(&mut d);
            cur(&d, &pricing)
        };
        // A late row in a pool, the same cost in another pool, an excluded
        // amount, an out-of-scope account, an invoice id arriving.
        for other in [
            changed(&|d| d.add(Line::Pool(key("AmazonECS")), "Usage", 1, true)),
            changed(&|d| {
                d.pools.clear();
                d.add(Line::Pool(key("AmazonRDS")), "Usage", 10, true);
            }),
            changed(&|d| d.add(Line::Excluded, "Credit", 0, true)),
            changed(&|d| d.add(Line::OutOfScope("111122223333".into()), "Usage", 0, true)),
            changed(&|d| d.rows_without_invoice = 2),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_logs_fingerprint_is_the_listing_in_any_order() {
        let object = |name: &str, size: u64, version: &str| Object {
            location: Location::parse(&format!("s3://logs/{name}")).unwrap(),
            size,
            version: version.into(),
        };
        let a = object("a.gz", 10, "\"e1\"");
        let b = object("b.gz", 20, "\"e2\"");
        let base = logs(&[a.clone(), b.clone()]);
        assert_eq!(base, logs(&[b.clone(), a.clone()]));
        assert_ne!(base, logs(std::slice::from_ref(&a)), "an object gone");
        assert_ne!(
            base,
            logs(&[a.clone(), object("b.gz", 20, "\"e3\"")]),
            "rewritten"
        );
        assert_ne!(base, logs(&[a, object("b.gz", 21, "\"e2\"")]), "resized");
    }
}
