//! The day's pools (SPEC 4.1, 4.4): each CUR group with its rule's driver,
//! scope and unit key, or the reason it is not allocated.

use crate::Result;
use crate::classify::FlowCatalog;
use crate::model::TransactionType;
use crate::model::money::Money;
use crate::model::{CurDay, PoolKey};
use crate::pricing::{Pricing, UnitKeys};

/// Why a pool was not allocated (SPEC 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unallocated {
    NoDriverUnits,
    Policy,
    UnknownTagValue,
}

impl Unallocated {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoDriverUnits => "no_driver_units",
            Self::Policy => "policy",
            Self::UnknownTagValue => "unknown_tag_value",
        }
    }
}

/// A pool, ready to split.
#[derive(Debug, Clone)]
pub struct Pool {
    pub key: PoolKey,
    pub cost: Money,
    /// The driver units to count; `None` when the pool cannot be allocated.
    pub unit_key: Result<u16, Unallocated>,
    pub flow: Option<String>,
    pub transaction_type: Option<TransactionType>,
}

impl Pool {
    /// SPEC 4.5: tagged with a flow or a type means direct.
    pub fn is_direct(&self) -> bool {
        self.key.tag_flow.is_some() || self.key.tag_transaction_type.is_some()
    }
}

/// SPEC 4.1, 4.2, 4.4: orders the pools, resolves their tags against the catalog,
/// and numbers the (driver, service) units the logs must yield.
pub fn plan_pools(day: &CurDay, pricing: &Pricing, catalog: &FlowCatalog) -> (Vec<Pool>, UnitKeys) {
    let mut entries: Vec<(&PoolKey, &Money)> = day.pools.iter().collect();
    entries.sort();
    let mut keys = UnitKeys::default();
    let pools = entries
        .into_iter()
        .map(|(key, &cost)| {
            let rule = pricing.rule(key.rule);
            let transaction_type = key
                .tag_transaction_type
                .as_deref()
                .map(TransactionType::parse);
            let flow_known = key
                .tag_flow
                .as_deref()
                .is_none_or(|f| catalog.type_of(f).is_some());
            let unit_key = if matches!(transaction_type, Some(None)) || !flow_known {
                Err(Unallocated::UnknownTagValue)
            } else {
                let service = key.tag_service.as_deref().or(rule.service.as_deref());
                keys.intern(&rule.driver, service)
                    .ok_or(Unallocated::Policy)
            };
            Pool {
                key: key.clone(),
                cost,
                unit_key,
                flow: key.tag_flow.clone(),
                transaction_type: transaction_type.flatten(),
            }
        })
        .collect();
    (pools, keys)
}
