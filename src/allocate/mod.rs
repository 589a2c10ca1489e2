//! Allocation (SPEC 4): the day's pools, their scope and driver units, the
//! exact largest-remainder split, unallocated pools, the direct/shared split,
//! the per-flow aggregates, and the conservation identity. Pure: CUR pools and
//! classified transactions in, allocated money out, every amount finished.

mod apply;
mod day;
mod division;
mod pools;
mod rows;
mod scope;
mod select;
mod split;
mod summary;
#[cfg(test)]
mod tests;

pub use day::allocate;
pub use pools::{Pool, Unallocated, plan_pools};
pub use rows::{
    Allocation, Breakdowns, FlowCost, FlowSummary, PoolRow, RowChunk, RowPart, Totals,
    TransactionCost,
};
pub use split::{Split, split};
pub use summary::{by_reason, divide_half_even, nearest_ranks};
