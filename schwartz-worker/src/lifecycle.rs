//! The pool's life: starting its threads (every worker built before any is spawned),
//! running the dispatcher on the calling thread, and the shutdown sequence (stop
//! grabbing, give back unstarted jobs, wait up to the grace period for running ones, give
//! back the rest of the chunks of threads still busy, write the outcomes still pending,
//! join).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use schwartz_core::scoreboard::Scoreboard;
use schwartz_core::Client;

use crate::completer::{give_up, write_outcomes, Completer, Handed};
use crate::config::{Config, Housekeeping, LeaseExtension, Notifications};
use crate::dispatcher::{release, Dispatched, Dispatcher, Event, Stopped};
use crate::error::{Error, Result};
use crate::housekeeper::Housekeeper;
use crate::listener::Listener;
use crate::shared::{lock, Mode, Shared};
use crate::summary::PoolSummary;
use crate::worker::WorkerThread;

/// Batches of outcomes waiting for the completer: a full queue makes workers wait
/// (back-pressure) rather than pile up outcomes.
const OUTCOME_QUEUE: usize = 256;

/// The threads started so far, to be stopped on every path.
struct Threads {
    workers: Vec<JoinHandle<()>>,
    completer: Option<(Sender<()>, JoinHandle<()>)>,
    helpers: Vec<JoinHandle<()>>,
}

/// Runs a pool on the calling thread until its dispatcher stops, then shuts it down.
pub(crate) fn run_pool(
    client: Client,
    config: Config,
    shared: Arc<Shared>,
    mode: Mode,
) -> Result<PoolSummary> {
    let started = Instant::now();
    {
        let shared = Arc::downgrade(&shared);
        client.on_insert(move |_| {
            if let Some(shared) = shared.upgrade() {
                shared.wake();
            }
        });
    }

    let (job_tx, job_rx) = bounded::<Vec<Dispatched>>(0);
    let (event_tx, event_rx) = unbounded::<Event>();
    let (done_tx, done_rx) = bounded::<Handed>(OUTCOME_QUEUE);
    let mut threads = Threads {
        workers: Vec::new(),
        completer: None,
        helpers: Vec::new(),
    };

    let started_threads = start_threads(
        &client,
        &config,
        &shared,
        &mut threads,
        job_rx,
        &event_tx,
        (done_tx, done_rx),
    );
    drop(event_tx);
    let stopped = match started_threads {
        Ok(()) => {
            let mut dispatcher =
                Dispatcher::new(&client, &config, &shared, mode, &job_tx, &event_rx);
            let stopped = dispatcher.dispatch();
            let (alive, _) = dispatcher.workers();
            Ok((stopped, alive))
        }
        Err(e) => Err(e),
    };
    shared.request_stop();
    drop(job_tx);

    let alive = match &stopped {
        Ok((_, alive)) => *alive,
        Err(_) => threads.workers.len(),
    };
    let abandoned = stop_workers(&config, &mut threads, &event_rx, alive);
    if abandoned > 0 {
        // Threads still running a job past the grace period: release the rest of their
        // chunks now, or they stay leased until those jobs end (or for `grab_for` if the
        // process exits first).
        let unstarted: Vec<_> = (shared.pending.iter())
            .flat_map(|p| lock(p).drain(..).map(|d| d.job).collect::<Vec<_>>())
            .collect();
        release(&client, &shared.stats, unstarted);
        // And write the outcomes of the jobs they ran before the one still running.
        let done: Vec<_> = (shared.collected.iter())
            .flat_map(|c| std::mem::take(&mut *lock(c)))
            .collect();
        let again = write_outcomes(&shared, done);
        give_up(&shared.stats, again);
    }
    if let Some((stop, handle)) = threads.completer.take() {
        drop(stop);
        join(handle, "completer");
    }
    for handle in threads.helpers.drain(..) {
        join(handle, "helper");
    }
    let summary = shared.stats.summary(abandoned, started.elapsed());
    log::info!("worker pool stopped: {summary}");
    match stopped? {
        (Stopped::Shutdown | Stopped::Done, _) => Ok(summary),
        (Stopped::StoreFailed(e), _) => Err(Error::store(e)),
        (Stopped::NoWorkers, _) => Err(Error::panicked("every worker thread ended")),
    }
}

/// Spawns a named thread.
fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|e| Error::spawn(format!("thread {name}"), e))
}

fn start_threads(
    client: &Client,
    config: &Config,
    shared: &Arc<Shared>,
    threads: &mut Threads,
    job_rx: Receiver<Vec<Dispatched>>,
    event_tx: &Sender<Event>,
    (done_tx, done_rx): (Sender<Handed>, Receiver<Handed>),
) -> Result<()> {
    let prefix = &config.thread_name;
    // Build every worker before spawning any (scoreboards may fail).
    let boards = scoreboards(client, config)?;
    let track_leases = config.lease_extension == LeaseExtension::Auto;
    let workers: Vec<WorkerThread> = boards
        .into_iter()
        .enumerate()
        .map(|(index, board)| {
            WorkerThread::new(
                index,
                client.clone(),
                Arc::clone(shared),
                job_rx.clone(),
                event_tx.clone(),
                done_tx.clone(),
                board,
                track_leases,
            )
        })
        .collect();
    drop(done_tx);
    for worker in workers {
        let name = format!("{prefix}-{}", worker.index());
        threads.workers.push(spawn(name, move || worker.serve())?);
    }

    let (stop_tx, stop_rx) = bounded::<()>(0);
    let completer = Completer::new(Arc::clone(shared), done_rx, stop_rx, config);
    let handle = spawn(format!("{prefix}-completer"), move || completer.complete())?;
    threads.completer = Some((stop_tx, handle));

    if track_leases || config.housekeeping != Housekeeping::Off || !config.schedules.is_empty() {
        let keeper = Housekeeper::new(
            client.clone(),
            Arc::clone(shared),
            track_leases,
            config.housekeeping,
        )
        .with_schedules(config.schedules.clone());
        let handle = spawn(format!("{prefix}-housekeeper"), move || keeper.keep_house())?;
        threads.helpers.push(handle);
    }

    if config.notifications == Notifications::Listen {
        for (n, listener) in Listener::for_stores(client, shared).into_iter().enumerate() {
            let handle = spawn(format!("{prefix}-listener-{n}"), move || listener.listen())?;
            threads.helpers.push(handle);
        }
    }
    Ok(())
}

/// One scoreboard per worker thread when the client has scoreboards on:
/// `<dir>/theschwartz/<client's file name>.<thread index>`.
fn scoreboards(client: &Client, config: &Config) -> Result<Vec<Option<Scoreboard>>> {
    let (Some(base), Some(path)) = (client.scoreboard_base_dir(), client.scoreboard_path()) else {
        return Ok((0..config.threads).map(|_| None).collect());
    };
    let stem = path.file_name().map_or_else(
        || format!("scoreboard.{}", std::process::id()),
        |s| s.to_string_lossy().into_owned(),
    );
    (0..config.threads)
        .map(|i| {
            Scoreboard::create(&base, &format!("{stem}.{i}"))
                .map(Some)
                .map_err(Error::store)
        })
        .collect()
}

/// Waits up to the grace period for the workers to end; joins those that did and leaves
/// the others behind. Returns how many were left behind.
fn stop_workers(
    config: &Config,
    threads: &mut Threads,
    events: &Receiver<Event>,
    alive: usize,
) -> u64 {
    let deadline = Instant::now() + config.shutdown_grace;
    let mut remaining = alive.min(threads.workers.len());
    while remaining > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match events.recv_timeout(deadline - now) {
            Ok(Event::Exited { .. }) => remaining -= 1,
            Ok(Event::Finished { .. }) => {}
            Err(_) => break,
        }
    }
    let mut abandoned = 0;
    for handle in threads.workers.drain(..) {
        if remaining > 0 && !handle.is_finished() {
            abandoned += 1;
            continue;
        }
        join(handle, "worker");
    }
    if abandoned > 0 {
        log::warn!(
            "{abandoned} worker threads still run a job after the {:?} grace period; leaving them behind (their jobs run again once their leases expire, unless they finish first)",
            config.shutdown_grace
        );
    }
    abandoned
}

fn join(handle: JoinHandle<()>, what: &str) {
    if let Err(panic) = handle.join() {
        log::error!(
            "a {what} thread panicked: {}",
            schwartz_core::panic::message(&*panic)
        );
    }
}
