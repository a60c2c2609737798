//! Periodic jobs: each tick of a schedule is inserted once, however many clients (pools)
//! run it at the same time and after its job completed and was deleted; missed ticks
//! follow the schedule's policy; schedules live in one home store; the schedules and their
//! next runs are listed. The last tick per schedule is kept in `schwartz_schedule`.

use std::collections::BTreeSet;
use std::time::Duration;

use schwartz_core::store::{NewJobRow, TickInsert};
use schwartz_core::{epoch_to_datetime, CronSpec, Missed, Schedule};

use super::common::*;

const FN: &str = "Worker::Tick";
const HOUR: i64 = 3600;

fn hourly(name: &str) -> Schedule {
    Schedule::new(name, "0 0 * * * *", Job::new(FN))
        .must("a schedule")
        .grace(secs(2 * HOUR as u64))
}

/// The `run_after` of every pending tick job, sorted (duplicates kept).
fn tick_times(c: &Client) -> Vec<i64> {
    let mut v: Vec<i64> = list(c, &[FN])
        .iter()
        .map(|j| datetime_to_epoch(j.run_after()))
        .collect();
    v.sort_unstable();
    v
}

/// The ticks of `spec` in `(after, until]`.
fn ticks(spec: &CronSpec, after: i64, until: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = after;
    while let Some(next) = spec.next_after(t).filter(|n| *n <= until) {
        out.push(next);
        t = next;
    }
    out
}

/// The schedule's recorded last tick.
fn last_tick(s: &Arc<dyn Store>, name: &str) -> i64 {
    let rows = s.schedules().must("schedules");
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no schedule {name:?} in {rows:?}"))
        .last_tick
}

/// Moves the clock to `secs_after` seconds after the next tick of `spec`.
fn advance_past_next(ctx: &Ctx, c: &Client, spec: &CronSpec, secs_after: i64) -> i64 {
    let now = c.now(&h0(c)).must("now");
    let next = spec.next_after(now).expect("a next tick");
    ctx.advance((next + secs_after - now) as u64);
    next
}

/// The store's compare-and-set: a tick is recorded once, never moved back, and its job
/// inserted with it; an unregistered schedule is an error.
fn store_tick_compare_and_set(ctx: &Ctx) {
    let s = ctx.store();
    let funcid = s.funcid(FN).must("funcid");
    let row = schwartz_core::store::ScheduleRow {
        name: "cas".into(),
        funcname: FN.into(),
        spec: "* * * * *".into(),
        last_tick: 1_000,
    };
    assert_eq!(s.register_schedule(&row).must("register"), row);
    let again = schwartz_core::store::ScheduleRow {
        spec: "*/5 * * * *".into(),
        last_tick: 5,
        ..row.clone()
    };
    let kept = s.register_schedule(&again).must("re-register");
    assert_eq!((kept.spec.as_str(), kept.last_tick), ("*/5 * * * *", 1_000));
    assert_eq!(
        s.insert_tick("cas", 1_000, None).must("tick"),
        TickInsert::Taken { last_tick: 1_000 }
    );
    assert_eq!(
        s.insert_tick("cas", 1_060, None).must("tick"),
        TickInsert::Recorded(None)
    );
    assert_eq!(
        s.insert_tick("cas", 1_000, None).must("tick"),
        TickInsert::Taken { last_tick: 1_060 }
    );
    let job = NewJobRow {
        jobid: None,
        funcid,
        arg: None,
        uniqkey: None,
        insert_time: 1_100,
        run_after: 1_120,
        grabbed_until: 0,
        priority: None,
        coalesce: None,
    };
    let TickInsert::Recorded(Some(id)) = s.insert_tick("cas", 1_120, Some(&job)).must("tick")
    else {
        panic!("the tick's job was not inserted")
    };
    assert_eq!(
        s.lookup(id).must("lookup").expect("the job").run_after,
        1_120
    );
    assert_eq!(
        s.insert_tick("cas", 1_120, Some(&job)).must("tick"),
        TickInsert::Taken { last_tick: 1_120 }
    );
    assert_eq!(stats(&s).jobs, 1, "a taken tick inserted its job");
    assert_err!(s.insert_tick("nope", 1, None), Error::InvalidInput(_));
}

/// Ticks due since registration are inserted once each, run by two clients in turn.
fn each_tick_inserted_once(ctx: &Ctx) {
    let s = ctx.store();
    let (a, b) = (
        ctx.client(std::slice::from_ref(&s)),
        ctx.client(std::slice::from_ref(&s)),
    );
    let sched = hourly("hourly");
    let t0 = a.register_schedule(&sched).must("register").last_tick;
    for _ in 0..4 {
        ctx.advance(2_000);
        a.run_schedule(&sched).must("run a");
        b.run_schedule(&sched).must("run b");
        b.run_schedule(&sched).must("run b again");
    }
    let last = last_tick(&s, "hourly");
    let want = ticks(sched.cron(), t0, last);
    assert!(
        want.len() >= 2,
        "8000 s should hold two hourly ticks: {want:?}"
    );
    assert_eq!(tick_times(&a), want);
}

/// A tick whose job completed (and was deleted) is not inserted again by a late client.
fn completed_tick_not_inserted_again(ctx: &Ctx) {
    let s = ctx.store();
    let a = ctx.client(std::slice::from_ref(&s));
    can_do(&a, FN, TestWorker::ok());
    let sched = hourly("once");
    a.register_schedule(&sched).must("register");
    let tick = advance_past_next(ctx, &a, sched.cron(), 60);
    let got = a.run_schedule(&sched).must("run");
    assert_eq!(got.len(), 1);
    assert_eq!(a.work_until_done().must("work"), 1);
    assert_eq!(stats(&s).jobs, 0);
    let late = ctx.client(std::slice::from_ref(&s));
    assert!(late.run_schedule(&sched).must("late run").is_empty());
    assert_eq!(stats(&s).jobs, 0, "the completed tick ran twice");
    assert_eq!(last_tick(&s, "once"), tick);
}

/// After downtime, `Missed::Skip` records the missed ticks without jobs.
fn missed_ticks_skipped(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let sched = hourly("skip").grace(secs(60));
    c.register_schedule(&sched).must("register");
    let first = advance_past_next(ctx, &c, sched.cron(), 4 * HOUR + 1_800);
    assert!(c.run_schedule(&sched).must("run").is_empty());
    assert_eq!(stats(&s).jobs, 0);
    assert_eq!(last_tick(&s, "skip"), first + 4 * HOUR);
    // The next tick, on time, runs.
    let next = advance_past_next(ctx, &c, sched.cron(), 5);
    assert_eq!(c.run_schedule(&sched).must("run").len(), 1);
    assert_eq!(tick_times(&c), vec![next]);
}

/// After downtime, `Missed::RunLast` inserts the last missed tick once.
fn missed_ticks_run_last(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let sched = hourly("last").grace(secs(60)).missed(Missed::RunLast);
    c.register_schedule(&sched).must("register");
    let first = advance_past_next(ctx, &c, sched.cron(), 4 * HOUR + 1_800);
    assert_eq!(c.run_schedule(&sched).must("run").len(), 1);
    assert!(c.run_schedule(&sched).must("run again").is_empty());
    assert_eq!(tick_times(&c), vec![first + 4 * HOUR]);
    assert_eq!(stats(&s).jobs, 1);
}

/// Several clients racing on one per-second schedule: every tick once, none missed.
fn racing_clients_each_tick_once(ctx: &Ctx) {
    let s = ctx.store();
    let sched = Schedule::new("race", "* * * * * *", Job::new(FN))
        .must("schedule")
        .grace(secs(3_600));
    let clients: Vec<Client> = (0..4)
        .map(|_| ctx.client(std::slice::from_ref(&s)))
        .collect();
    let t0 = clients[0]
        .register_schedule(&sched)
        .must("register")
        .last_tick;
    let rv = Rendezvous::new(clients.len(), Duration::from_secs(60));
    let shift = ctx.shift();
    std::thread::scope(|scope| {
        for (i, c) in clients.iter().enumerate() {
            let (rv, shift, sched) = (rv.clone(), shift.clone(), sched.clone());
            scope.spawn(move || {
                for _ in 0..8 {
                    rv.wait();
                    if i == 0 {
                        shift.advance(Duration::from_secs(5));
                    }
                    rv.wait();
                    c.run_schedule(&sched).must("run_schedule");
                }
            });
        }
    });
    clients[0].run_schedule(&sched).must("catch up");
    let last = last_tick(&s, "race");
    let want = ticks(sched.cron(), t0, last);
    assert!(want.len() >= 40, "{} ticks", want.len());
    let got = tick_times(&clients[0]);
    let distinct: BTreeSet<i64> = got.iter().copied().collect();
    assert_eq!(distinct.len(), got.len(), "a tick was inserted twice");
    assert_eq!(got, want, "ticks missing or extra");
}

/// A tick whose job the store refuses (its uniqkey's previous job still pending) is not
/// recorded: the compare-and-set and the insert are one transaction.
fn refused_tick_job_records_nothing(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let sched = Schedule::new("uniq", "0 0 * * * *", Job::new(FN).uniqkey("one-at-a-time"))
        .must("schedule")
        .grace(secs(2 * HOUR as u64));
    c.register_schedule(&sched).must("register");
    let first = advance_past_next(ctx, &c, sched.cron(), 10);
    assert_eq!(c.run_schedule(&sched).must("first").len(), 1);
    advance_past_next(ctx, &c, sched.cron(), 10);
    assert_err!(c.run_schedule(&sched), Error::DuplicateUniqkey { .. });
    assert_eq!(last_tick(&s, "uniq"), first, "a refused tick was recorded");
    assert_eq!(stats(&s).jobs, 1);
}

/// With several stores a schedule lives in one home store, whatever the client's order.
fn schedule_lives_in_home_store(ctx: &Ctx) {
    let stores = ctx.stores(3);
    let a = ctx.client(&stores);
    let mut reversed = stores.clone();
    reversed.reverse();
    let b = ctx.client(&reversed);
    let sched = hourly("home");
    a.register_schedule(&sched).must("register");
    advance_past_next(ctx, &a, sched.cron(), 10);
    let ha = a.run_schedule(&sched).must("a");
    let hb = b.run_schedule(&sched).must("b");
    assert_eq!(ha.len() + hb.len(), 1, "{ha:?} {hb:?}");
    let homes: Vec<usize> = stores
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.schedules().must("schedules").is_empty())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(homes.len(), 1, "the schedule is in stores {homes:?}");
    let jobs: Vec<u64> = stores.iter().map(|s| stats(s).jobs).collect();
    assert_eq!(jobs.iter().sum::<u64>(), 1);
    assert_eq!(jobs[homes[0]], 1);
}

/// `Client::schedules` lists spec, function, last tick and the next runs.
fn schedules_list_next_runs(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let sched = Schedule::new("tokyo", "0 0 9 * * *", Job::new(FN))
        .must("schedule")
        .time_zone("Asia/Tokyo")
        .must("zone");
    let row = c.register_schedule(&sched).must("register");
    let list = c.schedules(3).must("schedules");
    assert_eq!(list.len(), 1);
    let info = &list[0];
    assert_eq!(info.name, "tokyo");
    assert_eq!(info.funcname, FN);
    assert_eq!(info.spec, "CRON_TZ=Asia/Tokyo 0 0 9 * * *");
    assert_eq!(info.last_tick, epoch_to_datetime(row.last_tick));
    assert_eq!(info.next_runs.len(), 3);
    for w in info.next_runs.windows(2) {
        assert_eq!((w[1] - w[0]).num_seconds(), 86_400);
    }
    // 09:00 in Tokyo is 00:00 UTC.
    assert_eq!(datetime_to_epoch(info.next_runs[0]) % 86_400, 0);
    assert!(info.next_runs[0] > now(&c));
    assert_eq!(info.spec_error, None);
}

cases!(
    "cron";
    store_tick_compare_and_set,
    each_tick_inserted_once,
    completed_tick_not_inserted_again,
    missed_ticks_skipped,
    missed_ticks_run_last,
    racing_clients_each_tick_once,
    refused_tick_job_records_nothing,
    schedule_lives_in_home_store,
    schedules_list_next_runs,
);
