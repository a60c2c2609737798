//! Schwartz's own test targets; the contract and the fixtures they use live in
//! `schwartz-testkit`.
//!
//! - `tests/conformance.rs`: the conformance suite on every store (memory, SQLite,
//!   PostgreSQL, MySQL/MariaDB), with the backend x passed/failed/skipped table;
//! - `tests/pool.rs`: the worker pool on every store;
//! - `tests/perl_compat.rs`: Perl TheSchwartz and Schwartz on one database;
//! - `tests/failover.rs`: a PostgreSQL server that goes away mid-run;
//! - `tests/faults/`: worker processes killed, servers restarted and hung mid-drain;
//! - `examples/bench/`: the benchmark behind `cargo xtask bench` (`ceilings.rs`: the database's own ceilings it compares against).
//!
//! The library holds only what several of these targets share: [`servers`], private
//! PostgreSQL and MariaDB servers (the fault tests, the failover test and the bench's
//! scale-out scenario).

pub mod servers;
