//! `schwartz web` in a real browser: Debian's Chromium, headless, driven through
//! chromedriver (WebDriver, the `fantoccini` client). Opens the overview on a database with
//! known jobs and checks the numbers, opens a job, clicks "Retry now" and sees the state
//! change in the page and in the database, checks an error message holding `<script>`
//! renders as text, and that a write without the token is refused.
//!
//! Screenshots of every page go to `<target>/tmp/web-screenshots/`; with
//! `SCHWARTZ_UPDATE_SCREENSHOT=1` the overview is also copied to `docs/dashboard-overview.png`.
//! Without chromium and chromedriver the test is skipped loudly (and fails with `CI=true`).

mod common;
mod webcommon;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::new_db;
use fantoccini::{Client, ClientBuilder, Locator};
use schwartz_core::JobHandle;
use schwartz_diesel::Backend;
use webcommon::{seed, Server, SCRIPT_MESSAGE, TOKEN};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver(child, port)
}

async fn browser(port: u16) -> Client {
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--hide-scrollbars"]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session")
}

fn shots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn shot(c: &Client, name: &str) -> PathBuf {
    let png = c.screenshot().await.unwrap();
    let path = shots_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    path
}

/// The text of the first element matching `css`. A click that submits a form navigates
/// while the test goes on: an element found on the page being left goes stale, so it is
/// looked up again (for up to 5 s) until the new page answers.
async fn text(c: &Client, css: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        match c.find(Locator::Css(css)).await {
            Ok(e) => match e.text().await {
                Ok(t) => return t,
                Err(err) => last = err.to_string(),
            },
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css}: {last}")
}

/// The text of `css` once `ok` holds for it (a submitted form's page may still be loading),
/// waiting up to 5 s; panics with the last text otherwise.
async fn text_when(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css}: never as expected; last text: {last:?}")
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

#[test]
fn dashboard_in_chromium() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        schwartz_testkit::env::skip(
            "dashboard_in_chromium",
            &format!(
                "{} missing (apt-get install chromium chromium-driver)",
                missing.join(", ")
            ),
        );
        return;
    }
    let Some(db) = new_db(Backend::Sqlite) else {
        return;
    };
    let s = seed(&db);
    let board = tempfile::tempdir().unwrap();
    let sb = schwartz_core::scoreboard::Scoreboard::create(board.path(), "scoreboard.1.0").unwrap();
    let pid = std::process::id();
    std::fs::write(
        sb.path(),
        format!(
            "pid={pid}\nfuncname=Email\nstarted={}\narg=busy\n",
            chrono::Utc::now().timestamp() - 42
        ),
    )
    .unwrap();
    let srv = Server::start(
        &db.url,
        &[
            "--token",
            TOKEN,
            "--sample-every",
            "1",
            "--scoreboard-dir",
            &board.path().display().to_string(),
        ],
    );
    let store = db.store();
    let resize = schwartz_core::Client::builder()
        .store(store.clone())
        .build()
        .unwrap();
    for i in 0..40 {
        resize
            .insert(schwartz_core::Job::new("Resize").raw_arg(format!("img-{i}").into_bytes()))
            .unwrap();
    }
    resize
        .can_do(
            "Resize",
            |_: &schwartz_core::QueuedJob| -> Result<(), schwartz_core::WorkError> { Ok(()) },
        )
        .unwrap();
    let driver = start_driver();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = browser(driver.1).await;
        let base = &srv.base;
        // Let the sampler draw some points while a worker drains a backlog of Resize jobs.
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            for _ in 0..4 {
                resize.work_once().unwrap();
            }
        }

        // The overview: the numbers of the seeded database.
        c.goto(&format!("{base}/")).await.unwrap();
        let row = "#queues tr[data-func='Email']";
        assert_eq!(text(&c, &format!("{row} td.due")).await, "2");
        assert_eq!(text(&c, &format!("{row} td.scheduled")).await, "1");
        assert_eq!(text(&c, &format!("{row} td.running")).await, "1");
        assert_eq!(
            text(&c, "#queues tr[data-func='Report'] td.errors").await,
            "1"
        );
        assert_eq!(c.find_all(Locator::Css("svg")).await.unwrap().len(), 2);
        let overview = shot(&c, "overview").await;
        if std::env::var("SCHWARTZ_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&overview, docs.join("dashboard-overview.png")).unwrap();
        }

        // A write without the token is refused, and changes nothing.
        let job_url = format!("{base}/jobs/{}", s.scheduled);
        c.goto(&job_url).await.unwrap();
        assert_eq!(text(&c, "#state").await, "scheduled");
        click(&c, "#retry").await;
        let body = text_when(&c, "main", |t| t.contains("refused: log in")).await;
        assert!(body.contains("refused: log in"), "{body}");
        shot(&c, "refused").await;
        let id = s.scheduled.parse::<JobHandle>().unwrap().jobid();
        let row = store.lookup(id).unwrap().unwrap();
        assert!(row.run_after > store.server_time().unwrap() + 3000);

        // Log in with the token.
        c.goto(&format!("{base}/login")).await.unwrap();
        c.find(Locator::Css("#token"))
            .await
            .unwrap()
            .send_keys(TOKEN)
            .await
            .unwrap();
        click(&c, "#login").await;
        // Logged in once the answer to the form has loaded (it leaves /login).
        for _ in 0..50 {
            if c.current_url().await.is_ok_and(|u| u.path() != "/login") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        // The job: its argument, lease and failure log; "Retry now", confirm, done.
        c.goto(&job_url).await.unwrap();
        assert_eq!(text(&c, "#state").await, "scheduled");
        shot(&c, "job").await;
        click(&c, "#retry").await;
        text_when(&c, "main", |t| t.contains("Retry now 1 job(s)?")).await;
        shot(&c, "confirm").await;
        click(&c, "#confirm").await;
        let result = text_when(&c, "td.result", |t| !t.is_empty()).await;
        assert!(result.starts_with("retried: now runs after"), "{result}");
        shot(&c, "done").await;
        c.goto(&job_url).await.unwrap();
        assert_eq!(text(&c, "#state").await, "due");
        let row = store.lookup(id).unwrap().unwrap();
        assert!(
            row.run_after <= store.server_time().unwrap(),
            "due in the database"
        );

        // A job whose argument is JSON is shown decoded.
        c.goto(&format!("{base}/jobs/{}", s.due_c1)).await.unwrap();
        assert!(text(&c, "#arg").await.contains("\"to\": \"a@example.com\""));

        // The error holding <script> renders as text, and never runs.
        c.goto(&format!("{base}/errors")).await.unwrap();
        assert_eq!(text(&c, "#errors pre.message").await, SCRIPT_MESSAGE);
        let ran = c
            .execute("return window.pwned === undefined;", vec![])
            .await
            .unwrap();
        assert_eq!(ran, serde_json::json!(true), "the script ran");
        shot(&c, "errors").await;
        c.goto(&format!("{base}/jobs/{}", s.failed)).await.unwrap();
        assert_eq!(text(&c, "#failures pre.message").await, SCRIPT_MESSAGE);
        shot(&c, "failed-job").await;

        // Jobs (filtered) and workers.
        c.goto(&format!("{base}/jobs?func=Email")).await.unwrap();
        let rows = c.find_all(Locator::Css("#jobs tr")).await.unwrap();
        assert_eq!(rows.len(), 5, "a header and four Email jobs");
        shot(&c, "jobs").await;
        c.goto(&format!("{base}/workers")).await.unwrap();
        let w = text(&c, "#workers").await;
        assert!(w.contains("Email") && w.contains("busy"), "{w}");
        shot(&c, "workers").await;
        c.close().await.unwrap();
    });
    drop(sb);
}
