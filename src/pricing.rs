//! Pricing models (SPEC 3): one TOML file per product code in `pricing/`, plus
//! `_default.toml`. Loads and validates them (every problem, with file and line),
//! matches CUR rows to rules, and names the driver units the log reader must count.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::model::RuleRef;
use crate::model::money::{self, Money};
use crate::{Error, FastMap, Result};

/// The file every unmatched row falls back to.
pub const DEFAULT_FILE: &str = "_default.toml";

const PRICING_MODELS: &[&str] = &[
    "per-request",
    "duration",
    "provisioned",
    "storage",
    "data-transfer",
    "commitment",
    "other",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    product_code: Option<String>,
    category: String,
    pricing_model: Spanned<String>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    id: Spanned<String>,
    usage_type: Option<Spanned<String>>,
    operation: Option<Spanned<String>>,
    driver: Spanned<String>,
    unit_price_usd: Option<Spanned<f64>>,
    service: Option<String>,
}

/// What spreads a pool's cost over transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    /// One unit per transaction.
    Transactions,
    /// One unit per event.
    Events,
    /// The events' `duration_ms`.
    DurationMs,
    /// The size of the events' messages in bytes (what CloudWatch Logs bills by).
    Bytes,
    /// A usage counter, by index into [`UnitKeys`]' counter names.
    Usage(u16),
    /// Not allocated, by policy.
    None,
}

/// One rule of a pricing file.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    usage_type: Option<Regex>,
    operation: Option<Regex>,
    /// The driver as written (`usage.kms_requests`).
    pub driver: String,
    /// List price per driver unit, in 1e-10 USD.
    pub unit_price: Option<Money>,
    /// Only this microservice's events count.
    pub service: Option<String>,
}

/// One pricing file.
#[derive(Debug)]
pub struct Model {
    pub product_code: String,
    pub category: String,
    pub pricing_model: String,
    pub rules: Vec<Rule>,
}

/// All pricing models, validated.
#[derive(Debug)]
pub struct Pricing {
    models: Vec<Model>,
    by_product: HashMap<String, u16>,
    default_model: u16,
    /// SHA-256 over the files' names and bytes, in name order.
    pub sha256: String,
}

impl Pricing {
    /// Loads every `*.toml` of `dir`; reports every problem found, at once.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::config(format!("{}: pricing directory: {e}", dir.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut problems = Vec::new();
        let mut models = Vec::new();
        let mut by_product = HashMap::new();
        let mut default_model = None;
        let mut hasher = Sha256::new();
        for path in &paths {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("{}: unreadable: {e}", path.display()));
                    continue;
                }
            };
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
            let before = problems.len();
            let Some(model) = parse_model(path, &text, &mut problems) else {
                continue;
            };
            if problems.len() > before {
                continue;
            }
            let index = models.len() as u16;
            if name == DEFAULT_FILE {
                match model.rules.last() {
                    Some(last) if last.usage_type.is_none() && last.operation.is_none() => {}
                    _ => problems.push(format!(
                        "{}: the last rule of {DEFAULT_FILE} must match every row (no usage_type, no operation)",
                        path.display()
                    )),
                }
                default_model = Some(index);
            } else if let Some(previous) = by_product.insert(model.product_code.clone(), index) {
                problems.push(format!(
                    "{}: product_code {:?} is already modelled by {}",
                    path.display(),
                    model.product_code,
                    paths[previous as usize].display()
                ));
            }
            models.push(model);
        }
        // A `_default.toml` with problems of its own is not also "missing".
        if !paths
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == DEFAULT_FILE))
        {
            problems.push(format!("{}: {DEFAULT_FILE} is missing", dir.display()));
        }
        if !problems.is_empty() {
            return Err(Error::Config(problems));
        }
        Ok(Self {
            models,
            by_product,
            default_model: default_model.expect("checked above"),
            sha256: hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        })
    }

    /// All models, in file name order.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    pub fn rule(&self, r: RuleRef) -> &Rule {
        &self.models[r.model as usize].rules[r.rule as usize]
    }

    pub fn model(&self, r: RuleRef) -> &Model {
        &self.models[r.model as usize]
    }

    /// The first matching rule of the product's file, else of `_default.toml`.
    pub fn match_row(&self, product_code: &str, usage_type: &str, operation: &str) -> RuleRef {
        let first_match = |model: u16| {
            self.models[model as usize]
                .rules
                .iter()
                .position(|rule| {
                    rule.usage_type
                        .as_ref()
                        .is_none_or(|re| re.is_match(usage_type))
                        && rule
                            .operation
                            .as_ref()
                            .is_none_or(|re| re.is_match(operation))
                })
                .map(|rule| RuleRef {
                    model,
                    rule: rule as u16,
                })
        };
        self.by_product
            .get(product_code)
            .and_then(|&m| first_match(m))
            .or_else(|| first_match(self.default_model))
            .expect("the default file ends with a catch-all rule")
    }
}

fn parse_model(path: &Path, text: &str, problems: &mut Vec<String>) -> Option<Model> {
    let file: FileToml = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            problems.push(format!(
                "{}: {}",
                path.display(),
                e.to_string().trim_end().replace('\n', "\n    ")
            ));
            return None;
        }
    };
    let at = |span: std::ops::Range<usize>| {
        format!(
            "{}:{}",
            path.display(),
            text[..span.start].matches('\n').count() + 1
        )
    };
    let is_default = path.file_name().is_some_and(|n| n == DEFAULT_FILE);
    let product_code = match (&file.product_code, is_default) {
        (Some(code), _) => code.clone(),
        (None, true) => "_default".to_string(),
        (None, false) => {
            problems.push(format!("{}: product_code is missing", path.display()));
            String::new()
        }
    };
    if !PRICING_MODELS.contains(&file.pricing_model.get_ref().as_str()) {
        problems.push(format!(
            "{}: pricing_model {:?}: expected one of {}",
            at(file.pricing_model.span()),
            file.pricing_model.get_ref(),
            PRICING_MODELS.join(", ")
        ));
    }
    if file.rules.is_empty() {
        problems.push(format!("{}: no [[rule]]", path.display()));
    }
    let mut rules: Vec<Rule> = Vec::new();
    for rule in &file.rules {
        let id = rule.id.get_ref().clone();
        if rules.iter().any(|r| r.id == id) {
            problems.push(format!(
                "{}: rule id {id:?} is used twice in this file",
                at(rule.id.span())
            ));
        }
        rules.push(parse_rule(rule, id, &at, problems));
    }
    Some(Model {
        product_code,
        category: file.category,
        pricing_model: file.pricing_model.into_inner(),
        rules,
    })
}

/// One `[[rule]]`: its patterns compiled, its driver and price checked
/// (each problem reported with its file and line).
fn parse_rule(
    rule: &RuleToml,
    id: String,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
    problems: &mut Vec<String>,
) -> Rule {
    let mut regex = |field: &str, pattern: &Option<Spanned<String>>| {
        pattern
            .as_ref()
            .and_then(|p| match Regex::new(p.get_ref()) {
                Ok(re) => Some(re),
                Err(e) => {
                    problems.push(format!(
                        "{}: rule {id:?}: {field} {:?} is not a valid regular expression: {}",
                        at(p.span()),
                        p.get_ref(),
                        e.to_string().lines().last().unwrap_or_default()
                    ));
                    None
                }
            })
    };
    let usage_type = regex("usage_type", &rule.usage_type);
    let operation = regex("operation", &rule.operation);
    if let Err(message) = parse_driver_name(rule.driver.get_ref()) {
        problems.push(format!(
            "{}: rule {id:?}: {message}",
            at(rule.driver.span())
        ));
    }
    let unit_price = rule.unit_price_usd.as_ref().and_then(|p| {
        let value = *p.get_ref();
        match money::from_f64(value) {
            Some(m) if m >= 0 => Some(m),
            _ => {
                problems.push(format!(
                    "{}: rule {id:?}: unit_price_usd {value} must be a non-negative number",
                    at(p.span())
                ));
                None
            }
        }
    });
    Rule {
        id,
        usage_type,
        operation,
        driver: rule.driver.get_ref().clone(),
        unit_price,
        service: rule.service.clone().filter(|s| !s.is_empty()),
    }
}

/// Checks a driver name; returns the usage counter name for `usage.<counter>`.
fn parse_driver_name(driver: &str) -> std::result::Result<Option<&str>, String> {
    match driver {
        "transactions" | "events" | "duration_ms" | "bytes" | "none" => Ok(None),
        other => match other.strip_prefix("usage.") {
            Some(counter) if !counter.is_empty() => Ok(Some(counter)),
            _ => Err(format!(
                "driver {other:?}: expected transactions, events, duration_ms, bytes, usage.<counter> or none"
            )),
        },
    }
}

/// The distinct (driver, service filter) pairs the day's pools need, numbered,
/// so each transaction counts only the units some pool will use.
#[derive(Debug, Default)]
pub struct UnitKeys {
    keys: Vec<(Driver, Option<String>)>,
    counters: Vec<String>,
    unfiltered: Vec<(u16, Driver)>,
    by_service: FastMap<String, Vec<(u16, Driver)>>,
}

impl UnitKeys {
    /// The key for `driver` counted over `service`'s events (all events if `None`);
    /// `None` for the `none` driver.
    pub fn intern(&mut self, driver: &str, service: Option<&str>) -> Option<u16> {
        let driver = match parse_driver_name(driver).ok()? {
            Some(counter) => {
                let index = match self.counters.iter().position(|c| c == counter) {
                    Some(i) => i,
                    None => {
                        self.counters.push(counter.to_string());
                        self.counters.len() - 1
                    }
                };
                Driver::Usage(index as u16)
            }
            None => match driver {
                "transactions" => Driver::Transactions,
                "events" => Driver::Events,
                "duration_ms" => Driver::DurationMs,
                "bytes" => Driver::Bytes,
                _ => return None,
            },
        };
        let wanted = (driver, service.map(String::from));
        if let Some(i) = self.keys.iter().position(|k| *k == wanted) {
            return Some(i as u16);
        }
        // Keys are numbered in order, so each list, appended to, stays ascending.
        let key = self.keys.len() as u16;
        match service {
            None => {
                self.unfiltered.push((key, driver));
                for keys in self.by_service.values_mut() {
                    keys.push((key, driver));
                }
            }
            Some(s) => self
                .by_service
                .entry(s.to_string())
                .or_insert_with(|| self.unfiltered.clone())
                .push((key, driver)),
        }
        self.keys.push(wanted);
        Some(key)
    }

    /// Keys an event of `service` contributes to, ascending.
    pub fn for_service(&self, service: &str) -> &[(u16, Driver)] {
        self.by_service.get(service).unwrap_or(&self.unfiltered)
    }

    pub fn driver(&self, key: u16) -> Driver {
        self.keys[key as usize].0
    }

    /// The service a key counts over (`None`: every service's events).
    pub fn service(&self, key: u16) -> Option<&str> {
        self.keys[key as usize].1.as_deref()
    }

    pub fn counter_name(&self, counter: u16) -> &str {
        &self.counters[counter as usize]
    }

    /// How many keys there are (keys are 0..len).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key as the tables name it: the driver, `@service` when filtered
    /// (`usage.kms_requests`, `duration_ms@ledger-svc`).
    pub fn name(&self, key: u16) -> String {
        let (driver, service) = &self.keys[key as usize];
        let driver = match driver {
            Driver::Transactions => "transactions".to_string(),
            Driver::Events => "events".to_string(),
            Driver::DurationMs => "duration_ms".to_string(),
            Driver::Bytes => "bytes".to_string(),
            Driver::Usage(c) => format!("usage.{}", self.counter_name(*c)),
            Driver::None => "none".to_string(),
        };
        match service {
            Some(s) => format!("{driver}@{s}"),
            None => driver,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service's keys are the unfiltered ones and its own, ascending,
    /// whichever order they were interned in.
    #[test]
    fn a_service_keys_are_ascending() {
        let mut keys = UnitKeys::default();
        let events = keys.intern("events", None).expect("key");
        let ledger_ms = keys.intern("duration_ms", Some("ledger-svc")).expect("key");
        let kms = keys.intern("usage.kms_requests", None).expect("key");
        let kyc = keys.intern("transactions", Some("kyc-svc")).expect("key");
        let listed = |service: &str| -> Vec<u16> {
            keys.for_service(service).iter().map(|(k, _)| *k).collect()
        };
        assert_eq!(listed("ledger-svc"), [events, ledger_ms, kms]);
        assert_eq!(listed("kyc-svc"), [events, kms, kyc]);
        assert_eq!(listed("auth-svc"), [events, kms]);
    }

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn reports_every_problem_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "_default.toml",
            "category = \"other\"\npricing_model = \"other\"\n[[rule]]\nid = \"x\"\nusage_type = \"a\"\ndriver = \"events\"\n",
        );
        write(
            dir.path(),
            "AWSLambda.toml",
            "product_code = \"AWSLambda\"\ncategory = \"compute\"\npricing_model = \"per-call\"\n[[rule]]\nid = \"r\"\nusage_type = \"(\"\ndriver = \"cpu\"\n",
        );
        let Err(Error::Config(problems)) = Pricing::load(dir.path()) else {
            panic!("must fail")
        };
        let text = problems.join("\n");
        assert!(text.contains("_default.toml: the last rule"), "{text}");
        assert!(
            text.contains("AWSLambda.toml:3: pricing_model \"per-call\""),
            "{text}"
        );
        assert!(
            text.contains("AWSLambda.toml:6: rule \"r\": usage_type \"(\""),
            "{text}"
        );
        assert!(
            text.contains("AWSLambda.toml:7: rule \"r\": driver \"cpu\""),
            "{text}"
        );
        assert_eq!(problems.len(), 4, "{text}");
    }

    #[test]
    fn rows_take_the_first_matching_rule_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "_default.toml",
            "category = \"other\"\npricing_model = \"other\"\n[[rule]]\nid = \"all\"\ndriver = \"transactions\"\n",
        );
        write(
            dir.path(),
            "AmazonRekognition.toml",
            "product_code = \"AmazonRekognition\"\ncategory = \"kyc\"\npricing_model = \"per-request\"\n\
             [[rule]]\nid = \"face\"\nusage_type = \"Group1-ImagesProcessed\"\ndriver = \"usage.faces_compared\"\nunit_price_usd = 0.001\n",
        );
        let pricing = Pricing::load(dir.path()).unwrap();
        let face = pricing.match_row(
            "AmazonRekognition",
            "USE1-Group1-ImagesProcessed",
            "DetectFaces",
        );
        assert_eq!(pricing.rule(face).id, "face");
        assert_eq!(pricing.rule(face).unit_price, Some(10_000_000));
        let other = pricing.match_row("AmazonRekognition", "USE1-Group2-ImagesProcessed", "");
        assert_eq!(pricing.rule(other).id, "all");
        assert_eq!(pricing.model(other).category, "other");
        assert_eq!(pricing.sha256.len(), 64);
    }
}
