//! The `Store` contract, operation by operation, on every store: what the client relies
//! on, including the fencing and all-or-nothing rules. One group (`store::`), in files by
//! concern: `ops` (each operation once), `rows` (ids, uniqkeys, exit statuses, failures,
//! pruning), `select` (eligibility, order, filters, a naive model) and `claim` (claims,
//! SKIP LOCKED grabs, fencing, finish actions).

use crate::harness::Case;

mod claim;
mod ops;
mod rows;
mod select;
mod support;

/// The cases of the `store` group.
pub(crate) fn cases() -> Vec<Case> {
    [ops::cases(), rows::cases(), select::cases(), claim::cases()].concat()
}
