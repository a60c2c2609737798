//! The pool's `tracing` spans, recorded by a subscriber installed for this test process:
//! one `schwartz.job` span per job run, with its function, id, store, attempt and outcome,
//! and spans for grabs and outcome batches.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use schwartz_core::{Client, Job, QueuedJob, WorkError, Worker};
use schwartz_memory::MemoryStore;
use schwartz_worker::WorkerPool;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// A span as recorded: its name and fields (as text).
#[derive(Debug, Clone, Default)]
struct Seen {
    name: String,
    fields: BTreeMap<String, String>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// Keeps every span, by id, with the fields recorded on it so far.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(u64, Seen)>>>);

impl<S: Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut seen = Seen {
            name: attrs.metadata().name().to_string(),
            ..Seen::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        self.0.lock().unwrap().push((id.into_u64(), seen));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        // Ids are reused once a span closes: the newest span with this id.
        let mut spans = self.0.lock().unwrap();
        if let Some((_, seen)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
}

/// Fails the first attempt of each job, then completes it.
struct FlakyOnce(Mutex<HashSet<u64>>);

impl Worker for FlakyOnce {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        if self.0.lock().unwrap().insert(n) {
            return Err("first attempt".into());
        }
        Ok(())
    }
    fn max_retries(&self, _: &QueuedJob) -> u32 {
        3
    }
}

#[test]
fn every_job_runs_in_a_span_with_its_identity_and_outcome() {
    let spans = Spans::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(spans.clone()))
        .expect("the only subscriber of this process");

    let store = Arc::new(MemoryStore::new());
    let client = Client::builder().store(store as _).build().unwrap();
    client.can_do("ok", |_: &QueuedJob| Ok(())).unwrap();
    client
        .can_do("flaky", FlakyOnce(Mutex::new(HashSet::new())))
        .unwrap();
    let mut jobs = Vec::new();
    for n in 0..10u64 {
        jobs.push(Job::new("ok").arg(&n).unwrap());
    }
    for n in 0..4u64 {
        jobs.push(Job::new("flaky").arg(&n).unwrap());
    }
    let handles = client.insert_jobs(jobs).unwrap();
    let summary = WorkerPool::builder(client.clone())
        .threads(2)
        .build()
        .unwrap()
        .run_until_done()
        .unwrap();
    assert_eq!(summary.completed, 14, "{summary}");

    let spans = spans.0.lock().unwrap().clone();
    let job_spans: Vec<&Seen> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "schwartz.job")
        .collect();
    // 10 + 4 + 4 retries.
    assert_eq!(job_spans.len(), 18, "{job_spans:#?}");
    let store_hash = handles[0].store().as_str().to_string();
    for h in &handles {
        let id = h.jobid().0.to_string();
        let mine: Vec<&&Seen> = job_spans
            .iter()
            .filter(|s| s.fields.get("jobid") == Some(&id))
            .collect();
        assert!(!mine.is_empty(), "no span for job {id}");
        for s in &mine {
            assert_eq!(s.fields["store"], store_hash);
            assert!(["ok", "flaky"].contains(&s.fields["funcname"].as_str()));
        }
        let outcomes: Vec<&str> = mine.iter().map(|s| s.fields["outcome"].as_str()).collect();
        if mine[0].fields["funcname"] == "flaky" {
            assert_eq!(outcomes, ["retried", "completed"], "job {id}");
            // The failed attempt knows it was the first.
            assert_eq!(mine[0].fields["attempt"], "1");
        } else {
            assert_eq!(outcomes, ["completed"], "job {id}");
        }
    }
    assert!(spans
        .iter()
        .any(|(_, s)| s.name == "schwartz.grab" && s.fields.get("got").is_some_and(|g| g != "0")));
    assert!(spans.iter().any(|(_, s)| s.name == "schwartz.complete"));
    // No span carries anything but these fields (no URL, no argument).
    for (_, s) in &spans {
        for k in s.fields.keys() {
            assert!(
                ["funcname", "jobid", "store", "attempt", "outcome", "want", "got", "jobs"]
                    .contains(&k.as_str()),
                "unexpected field {k} in {}",
                s.name
            );
        }
    }
}
