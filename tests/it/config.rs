//! Every shipped configuration and pricing file loads; the pricing models cover
//! every service SPEC 1 names.

use std::collections::BTreeMap;

use costjob::config::{self, Overrides};
use costjob::pricing::Pricing;

use crate::helpers::*;

#[test]
fn every_example_config_loads() {
    let mut found = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            config::load(&path, &BTreeMap::new(), &Overrides::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            found += 1;
        }
    }
    assert!(found >= 1);
}

#[test]
fn pricing_models_cover_every_service_of_the_spec() {
    let pricing = Pricing::load(&repo().join("pricing")).unwrap();
    let codes: Vec<&str> = pricing
        .models()
        .iter()
        .map(|m| m.product_code.as_str())
        .collect();
    for code in [
        "AmazonECS",
        "AmazonRDS",
        "AWSLambda",
        "AmazonApiGateway",
        "AWSQueueService",
        "AmazonSNS",
        "awskms",
        "AWSSecretsManager",
        "AmazonCloudWatch",
        "AmazonVPC",
        "AWSELB",
        "AmazonS3",
        "AmazonRekognition",
        "AmazonTextract",
        "AWSDataTransfer",
        "ComputeSavingsPlans",
        "_default",
    ] {
        assert!(codes.contains(&code), "no pricing model for {code}");
    }
    // Every file names its AWS pricing scheme in a comment, and every rule set ends in a catch-all.
    for entry in std::fs::read_dir(repo().join("pricing")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with('#'),
            "{} has no header comment",
            path.display()
        );
    }
    let sms = pricing.match_row("AmazonSNS", "USE1-SMS-Transactional-EC", "Publish");
    assert_eq!(pricing.rule(sms).id, "sms");
    let unknown = pricing.match_row("AWSGlue", "USE1-Crawler-DPU-Hour", "");
    assert_eq!(pricing.rule(unknown).id, "unmodelled");
}

/// A setting from the environment that is wrong is blamed on its variable,
/// not on the file (which may say something else entirely).
#[test]
fn a_bad_setting_from_the_environment_names_the_variable_not_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = repo().join("examples/costjob.toml");
    let check = |env: &[(&str, &str)]| {
        let o = crate::helpers::costjob(
            tmp.path(),
            &["check", "--config", config.to_str().unwrap()],
            env,
        );
        assert_eq!(o.status.code(), Some(2), "{}", crate::helpers::stderr(&o));
        crate::helpers::stderr(&o)
    };
    let err = check(&[
        ("COSTJOB_LOGS_FORMAT", "csv"),
        ("COSTJOB_CALENDAR_TIMEZONE", "Quito"),
        ("COSTJOB_LOGS_FIELDS_FLOW", "flow"),
    ]);
    for expected in [
        "environment COSTJOB_LOGS_FORMAT: [logs] format = \"csv\"",
        "environment COSTJOB_CALENDAR_TIMEZONE: [calendar] timezone = \"Quito\"",
        "environment COSTJOB_LOGS_FIELDS_FLOW: [logs.fields] flow",
    ] {
        assert!(err.contains(expected), "{expected:?} not in {err}");
    }
    assert!(!err.contains("costjob.toml: [logs] format"), "{err}");
    assert!(!err.contains("costjob.toml: [calendar]"), "{err}");
}
