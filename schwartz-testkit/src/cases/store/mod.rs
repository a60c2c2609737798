//! The `Store` contract, operation by operation.

mod ops;

pub(crate) use ops::cases;
