//! The cases, grouped by the upstream test file they port (spec section 8), plus the
//! behaviours upstream never tested (8.26), our bug fixes, leases, bad input, and the
//! `Store` contract itself.

use crate::harness::Case;

mod bad_input;
mod bugfix;
mod cleanup;
mod coalesce;
mod common;
mod declined;
mod empty_db;
mod evenly_distribute;
mod failover;
mod funcmap;
mod grab;
mod grab_race;
mod high_funcid_starvation;
mod insert;
mod insert_and_do;
mod job;
mod lease;
mod outcomes;
mod parallel_workers;
mod priority;
mod replace;
mod replace_abort;
mod retry;
mod scoreboard;
mod server_time;
mod store;
mod unique;
mod work_before_funcids_exist;
mod work_loop;

/// Every case, in report order.
pub(crate) fn all() -> Vec<Case> {
    let groups: [fn() -> Vec<Case>; 28] = [
        job::cases,
        insert::cases,
        cleanup::cases,
        coalesce::cases,
        failover::cases,
        declined::cases,
        empty_db::cases,
        evenly_distribute::cases,
        outcomes::cases,
        funcmap::cases,
        grab_race::cases,
        grab::cases,
        high_funcid_starvation::cases,
        insert_and_do::cases,
        parallel_workers::cases,
        priority::cases,
        replace_abort::cases,
        replace::cases,
        retry::cases,
        scoreboard::cases,
        server_time::cases,
        unique::cases,
        work_before_funcids_exist::cases,
        work_loop::cases,
        bugfix::cases,
        lease::cases,
        bad_input::cases,
        store::cases,
    ];
    groups.iter().flat_map(|g| g()).collect()
}
