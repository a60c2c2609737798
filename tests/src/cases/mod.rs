//! The cases, grouped by the upstream test file they port (spec section 8), plus the
//! behaviours upstream never tested (8.26), our bug fixes, leases, bad input, and the
//! `Store` contract itself.

use crate::harness::Case;

mod api;
mod bad_input;
mod bugfix;
mod cleanup;
mod coalesce;
mod common;
mod dead_dbs;
mod declined;
mod empty_db;
mod evenly_distribute;
mod fail_working_multiple;
mod funcid;
mod grab_and_work_on;
mod grab_race;
mod high_funcid_starvation;
mod insert_and_do;
mod inspect;
mod job_ctor;
mod lease;
mod parallel_workers;
mod priority;
mod replace_abort;
mod replace_with;
mod retry_delay;
mod scoreboard;
mod server_time;
mod store;
mod unique;
mod untested;
mod work_before_funcids_exist;

/// Every case, in report order.
pub(crate) fn all() -> Vec<Case> {
    let groups: [fn() -> Vec<Case>; 28] = [
        job_ctor::cases,
        api::cases,
        cleanup::cases,
        coalesce::cases,
        dead_dbs::cases,
        declined::cases,
        empty_db::cases,
        evenly_distribute::cases,
        fail_working_multiple::cases,
        funcid::cases,
        grab_race::cases,
        grab_and_work_on::cases,
        high_funcid_starvation::cases,
        insert_and_do::cases,
        parallel_workers::cases,
        priority::cases,
        replace_abort::cases,
        replace_with::cases,
        retry_delay::cases,
        scoreboard::cases,
        server_time::cases,
        unique::cases,
        work_before_funcids_exist::cases,
        untested::cases,
        bugfix::cases,
        lease::cases,
        bad_input::cases,
        store::cases,
    ];
    groups
        .iter()
        .flat_map(|g| g())
        .chain(inspect::cases())
        .collect()
}
