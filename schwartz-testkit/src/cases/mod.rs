//! The cases, one module per behaviour. A case's name is `group::case`; the groups are
//! listed in report order in [`all`].

use crate::harness::Case;

mod args;
mod cancel;
mod coalesce;
mod common;
mod cron;
mod declined;
mod failover;
mod funcmap;
mod grab;
mod insert;
mod inspect;
mod job;
mod lease;
mod list;
mod outcomes;
mod priority;
mod records;
mod replace;
mod results;
mod retry;
mod schedule;
mod schedule_race;
mod scoreboard;
mod store;
mod typed;
mod unique;
mod unique_batch;
mod work_loop;

/// Every case, in report order.
pub(crate) fn all() -> Vec<Case> {
    let groups: [fn() -> Vec<Case>; 26] = [
        insert::cases,
        job::cases,
        args::cases,
        unique::cases,
        unique_batch::cases,
        list::cases,
        grab::cases,
        priority::cases,
        coalesce::cases,
        outcomes::cases,
        retry::cases,
        declined::cases,
        replace::cases,
        lease::cases,
        failover::cases,
        funcmap::cases,
        scoreboard::cases,
        work_loop::cases,
        store::cases,
        inspect::cases,
        schedule::cases,
        records::cases,
        results::cases,
        cron::cases,
        cancel::cases,
        typed::cases,
    ];
    groups.iter().flat_map(|g| g()).collect()
}
