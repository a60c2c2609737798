//! Fair grabbing: one busy function cannot starve the others, and optional per-function
//! concurrency limits.
//!
//! # Rule
//!
//! Each grab has a *lead* function, taken round-robin over the client's abilities. The
//! grab first asks for the lead's jobs alone (up to the whole demand), then, if the lead
//! had fewer, for the rest across every function without a limit, oldest first (as
//! [`Client::grab_jobs`] does), then for each limited function up to its free slots. So a
//! function with due jobs leads at least one grab in every `n` (`n` functions) and gets
//! its jobs then, however many older jobs another function has; when the lead has enough
//! jobs a grab is still one store round trip, otherwise two (plus one per limited
//! function). With one function it is exactly one round trip, as before.
//!
//! # Limits
//!
//! A function limited to `m` never has more than `m` jobs held by the pool: grabbed and
//! buffered, or handed to a worker and not yet reported finished (a worker's chunk counts
//! until the whole chunk is done). Grabs ask a limited function for at most its free slots.

use std::collections::{HashMap, VecDeque};

use schwartz_core::{Client, QueuedJob};

use crate::dispatcher::Dispatched;

/// The rotation and the per-function counts of one pool's dispatcher.
#[derive(Debug, Default)]
pub(crate) struct Fairness {
    /// Index of the next lead function in the client's abilities.
    next: usize,
    /// Per-function limits (jobs held at once).
    limits: HashMap<String, usize>,
    /// Jobs of limited functions handed to workers and not reported finished.
    running: HashMap<String, usize>,
}

impl Fairness {
    pub(crate) fn new(limits: HashMap<String, usize>) -> Self {
        Fairness {
            next: 0,
            limits,
            running: HashMap::new(),
        }
    }

    /// Whether a function's jobs are counted (it has a limit).
    fn limited(&self, funcname: &str) -> bool {
        self.limits.contains_key(funcname)
    }

    /// A chunk with these counted functions' jobs ([`Fairness::counted`]) was handed to
    /// a worker.
    pub(crate) fn handed(&mut self, counted: &[String]) {
        for name in counted {
            *self.running.entry(name.clone()).or_default() += 1;
        }
    }

    /// A worker finished a chunk with these functions' jobs; true when a limited
    /// function's slot was freed.
    pub(crate) fn finished(&mut self, funcnames: &[String]) -> bool {
        let mut freed = false;
        for name in funcnames {
            if let Some(n) = self.running.get_mut(name) {
                if *n > 0 {
                    *n -= 1;
                    freed = true;
                }
            }
        }
        freed
    }

    /// The functions of a chunk that the dispatcher counts (reported back by the worker
    /// when the chunk is done).
    pub(crate) fn counted(&self, chunk: &[Dispatched]) -> Vec<String> {
        chunk
            .iter()
            .map(|d| d.job.funcname())
            .filter(|n| self.limited(n))
            .map(str::to_string)
            .collect()
    }

    /// Free slots of a limited function (`None`: no limit).
    fn free(&self, funcname: &str, buffer: &VecDeque<Dispatched>) -> Option<usize> {
        let max = *self.limits.get(funcname)?;
        let running = self.running.get(funcname).copied().unwrap_or(0);
        let buffered = buffer
            .iter()
            .filter(|d| d.job.funcname() == funcname)
            .count();
        Some(max.saturating_sub(running + buffered))
    }

    /// Grabs up to `want` jobs by the rule in the [module docs](self).
    ///
    /// # Errors
    /// The client's error when the first round trip fails; a later failure is logged and
    /// the jobs already grabbed are returned.
    pub(crate) fn grab(
        &mut self,
        client: &Client,
        want: usize,
        buffer: &VecDeque<Dispatched>,
    ) -> schwartz_core::Result<Vec<QueuedJob>> {
        let mut names: Vec<String> = Vec::new();
        for n in client.abilities() {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        if names.is_empty() || want == 0 {
            return Ok(Vec::new());
        }
        let lead = names[self.next % names.len()].clone();
        self.next = self.next.wrapping_add(1);
        let mut out = Vec::new();
        let step = |out: &mut Vec<QueuedJob>, funcs: &[String], limit: usize| {
            if limit == 0 || funcs.is_empty() {
                return Ok(());
            }
            match client.grab_jobs_of(funcs, limit) {
                Ok(mut jobs) => {
                    out.append(&mut jobs);
                    Ok(())
                }
                Err(e) if out.is_empty() => Err(e),
                Err(e) => {
                    log::warn!("grabbing jobs of {funcs:?} failed: {e}");
                    Ok(())
                }
            }
        };
        let lead_cap = self.free(&lead, buffer).unwrap_or(want).min(want);
        step(&mut out, std::slice::from_ref(&lead), lead_cap)?;
        let open: Vec<String> = names.iter().filter(|n| !self.limited(n)).cloned().collect();
        let room = want - out.len();
        step(&mut out, &open, room)?;
        for name in names.iter().filter(|n| self.limited(n) && **n != lead) {
            let room = want - out.len();
            if room == 0 {
                break;
            }
            let cap = self.free(name, buffer).unwrap_or(0).min(room);
            step(&mut out, std::slice::from_ref(name), cap)?;
        }
        Ok(out)
    }
}
