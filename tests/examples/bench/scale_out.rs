//! Scale-out (PostgreSQL): one pool drains the jobs of two databases on two PostgreSQL
//! servers, against the same jobs in one database on one server.
//!
//! The bench starts two private servers itself (`schwartz_tests::servers`: initdb into a
//! temporary directory, as `postgres` when run as root, `fsync=off` and
//! `synchronous_commit=off`, on free ports or `--private-pg-ports A,B`); they are killed and
//! their directories removed when the scenario ends, also on an error or a panic. For each
//! of 3 rounds, alternating: `--jobs` no-op jobs in a fresh database on the first server,
//! drained by a `WorkerPool`; then the same number inserted by one `Client` with a fresh
//! database on each server (`insert_jobs` of 1,000 puts each batch in a database picked at
//! random, so the split is near half and half; the row says it) and drained by one pool.
//! Each drain is checked (every job ran exactly once, none is left); the rows show the
//! median rates and their ratio.
//!
//! And what limits it: during each drain the bench reads the CPU time of the whole machine
//! (`/proc/stat`), of its own process and of the servers' processes, and says how many of
//! the machine's cores were busy. On a 2-core machine the bench process and the server
//! backends share two cores; when they are all busy a second server cannot add speed.
//! Without the server programs, or when a server does not start, the row says why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use schwartz_core::store::Store;
use schwartz_testkit::{fixtures, Backend as _, TestDb};
use schwartz_tests::servers::{Kind as ServerKind, Server};

use crate::{
    cpu, insert_batches, noop_client_on, pool_builder, rate_row, verify_on, BoxError, Options, Row,
    Seen,
};

/// What every row of the scenario is named after (`--only scale-out`).
pub const NAME: &str = "scale-out";
/// Rounds of (one server, two servers); the rows show the medians.
const ROUNDS: usize = 3;
/// Threads of the pool.
const THREADS: usize = 2;
/// What the private servers trade for speed, said in the rows.
const SETTINGS: &str = "private servers with fsync=off, synchronous_commit=off";

/// The scenario's rows: one server, two servers (or one row saying why it could not run).
pub fn rows(opts: &Options, n: u64) -> Vec<Row> {
    let name = format!("{NAME}: 2 private PostgreSQL servers vs 1");
    let servers = match start(&opts.private_pg_ports) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("  {name}: cannot start private PostgreSQL servers: {e}");
            // The first line says why; the server's log (printed above) has the rest.
            let why = e.lines().next().unwrap_or_default();
            return vec![crate::skipped_row(
                name,
                format!("skipped: cannot start private PostgreSQL servers: {why}"),
            )];
        }
    };
    eprintln!(
        "  {name}: servers on ports {} and {} ({SETTINGS})",
        servers[0].port, servers[1].port
    );
    let result = measure(&servers, n);
    // The servers go here (killed, directories removed), and on a panic while unwinding.
    drop(servers);
    result.unwrap_or_else(|e| vec![crate::failed_row(name, &e)])
}

/// Starts the two servers side by side.
fn start(ports: &[u16]) -> Result<Vec<Server>, String> {
    if !ports.is_empty() && ports.len() != 2 {
        return Err(format!(
            "--private-pg-ports needs two ports, got {}",
            ports.len()
        ));
    }
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start_on(ServerKind::Postgres, ports.first().copied()));
        let b = s.spawn(|| Server::start_on(ServerKind::Postgres, ports.get(1).copied()));
        (a.join(), b.join())
    });
    let joined = |r: std::thread::Result<Result<Server, String>>| {
        r.map_err(|_| "starting a server panicked".to_string())?
    };
    Ok(vec![joined(a)?, joined(b)?])
}

/// One drain's figures.
struct Drained {
    elapsed: Duration,
    /// Jobs in each database before the drain.
    split: Vec<u64>,
    cpu: CpuUse,
}

impl Drained {
    fn rate(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn measure(servers: &[Server], n: u64) -> Result<Vec<Row>, BoxError> {
    let mut one: Vec<Drained> = Vec::new();
    let mut two: Vec<Drained> = Vec::new();
    for round in 0..ROUNDS {
        let a = drain_on(&servers[..1], n, round)?;
        let b = drain_on(servers, n, round)?;
        eprintln!(
            "  {NAME} round {}: 1 server {:.0}/s, 2 servers {:.0}/s",
            round + 1,
            a.rate(n),
            b.rate(n)
        );
        one.push(a);
        two.push(b);
    }
    let one = median(one, n);
    let two = median(two, n);
    let ratio = two.rate(n) / one.rate(n).max(1e-9);

    let mut row1 = rate_row(
        format!("{NAME}: 1 private PostgreSQL server, pool of {THREADS}"),
        n,
        one.elapsed,
        "the reference of the row below",
        Ok(()),
    );
    row1.figure = format!("{:.0}/s (median of {ROUNDS}); CPU {}", one.rate(n), one.cpu);
    row1.check = format!("ok ({SETTINGS})");

    let mut row2 = rate_row(
        format!("{NAME}: 2 private PostgreSQL servers, one pool of {THREADS}"),
        n,
        two.elapsed,
        "ratio of 2 servers to 1, reported",
        Ok(()),
    );
    row2.figure = format!(
        "{:.0}/s (median of {ROUNDS}) = {ratio:.2}x of 1 server; jobs split {}; CPU {}",
        two.rate(n),
        two.split
            .iter()
            .map(|j| j.to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        two.cpu
    );
    row2.check = format!("ok; limit: {}", two.cpu.limit());
    Ok(vec![row1, row2])
}

/// The run with the median rate.
fn median(mut runs: Vec<Drained>, n: u64) -> Drained {
    runs.sort_by(|a, b| a.rate(n).total_cmp(&b.rate(n)));
    runs.swap_remove(runs.len() / 2)
}

/// `n` jobs in a fresh database on each of `servers`, inserted and drained by one client.
fn drain_on(servers: &[Server], n: u64, round: usize) -> Result<Drained, BoxError> {
    let dbs: Vec<TestDb> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            fixtures::Server::postgres()
                .with_url(s.url())
                .pool_size(8)
                .fresh(&format!("scale_out_{}_{round}_{i}", servers.len()))
        })
        .collect::<Result<_, String>>()?;
    let stores: Vec<Arc<dyn Store>> = dbs.iter().map(|d| Arc::clone(&d.store)).collect();
    let seen = Seen::new(n);
    let client = noop_client_on(stores.clone(), &seen)?;
    insert_batches(&client, n)?;
    let split = stores
        .iter()
        .map(|s| s.stats().map(|st| st.jobs))
        .collect::<Result<Vec<_>, _>>()?;
    let pool = pool_builder(&client, THREADS).build()?;
    let before = CpuTicks::now(servers);
    let t0 = Instant::now();
    let summary = pool.run_until_done()?;
    let elapsed = t0.elapsed();
    let cpu = CpuTicks::now(servers).since(&before);
    if summary.errors + summary.lease_lost + summary.failed > 0 {
        return Err(format!("pool reported problems: {summary}").into());
    }
    verify_on(&stores, &seen).map_err(|e| format!("{} server(s): {e}", servers.len()))?;
    Ok(Drained {
        elapsed,
        split,
        cpu,
    })
}

// ---- CPU accounting ---------------------------------------------------------------------

/// CPU time so far, in the kernel's clock ticks: the whole machine (all, idle), this
/// process, the servers' processes.
struct CpuTicks {
    machine: (u64, u64),
    bench: u64,
    servers: u64,
}

/// Where the CPU went during a drain, in cores (busy time / wall time).
#[derive(Clone, Copy)]
struct CpuUse {
    cores: f64,
    busy: f64,
    bench: f64,
    servers: f64,
}

impl CpuTicks {
    fn now(servers: &[Server]) -> CpuTicks {
        CpuTicks {
            machine: cpu::machine_ticks(),
            bench: cpu::process_ticks("self"),
            servers: servers
                .iter()
                .flat_map(Server::pids)
                .map(|p| cpu::process_ticks(&p.to_string()))
                .sum(),
        }
    }

    fn since(&self, before: &CpuTicks) -> CpuUse {
        let all = self.machine.0.saturating_sub(before.machine.0);
        CpuUse {
            cores: cpu::cores(),
            busy: cpu::busy_between(before.machine, self.machine),
            bench: cpu::share(self.bench.saturating_sub(before.bench), all),
            servers: cpu::share(self.servers.saturating_sub(before.servers), all),
        }
    }
}

impl CpuUse {
    /// What limits the drain, as far as the CPU figures say.
    fn limit(&self) -> String {
        let others = self.others();
        if self.busy >= 0.9 * self.cores {
            format!(
                "the CPU: {:.2} of {:.0} cores busy ({:.2} the bench and the servers, {others:.2} \
                 other processes); the bench and two servers cannot run side by side on {:.0} \
                 cores",
                self.busy,
                self.cores,
                self.bench + self.servers,
                self.cores
            )
        } else {
            format!(
                "not the CPU alone ({:.2} of {:.0} cores busy): round trips; the pool's one \
                 dispatcher grabs from one database at a time (the other only when the first \
                 has too few jobs)",
                self.busy, self.cores
            )
        }
    }

    /// Cores busy with other processes than the bench and its servers.
    fn others(&self) -> f64 {
        (self.busy - self.bench - self.servers).max(0.0)
    }
}

impl std::fmt::Display for CpuUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} of {:.0} cores busy: bench {:.2}, server(s) {:.2}, other processes {:.2}",
            self.busy,
            self.cores,
            self.bench,
            self.servers,
            self.others()
        )
    }
}
