//! The axum example, run as a test: a request enqueues its job through `AsyncClient`, and
//! a malformed request enqueues nothing.

#[allow(dead_code)]
#[path = "../examples/axum_enqueue.rs"]
mod example;

use schwartz_core::{AsyncClient, JobHandle, ListJobs, TypedJob};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one HTTP/1.1 request with a JSON body; returns the status and the body.
async fn post(addr: std::net::SocketAddr, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /orders HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_enqueues_its_job() {
    let client = example::client();
    let queue = AsyncClient::new(client.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, example::app(queue)).await });

    let (status, body) = post(addr, r#"{"id": 7, "email": "ada@example.com"}"#).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let handle: JobHandle = answer["job"].as_str().unwrap().parse().unwrap();
    let queue = AsyncClient::new(client);
    let job = queue
        .lookup_job(handle)
        .await
        .unwrap()
        .expect("the job is stored");
    assert_eq!(job.funcname(), example::SendReceipt::NAME);
    assert_eq!(
        job.arg::<example::SendReceipt>().unwrap(),
        example::SendReceipt {
            order: 7,
            email: "ada@example.com".into()
        }
    );

    let (status, _) = post(addr, r#"{"id": "seven"}"#).await;
    assert!(
        (400..500).contains(&status),
        "a malformed order is refused: {status}"
    );
    let all = queue
        .list_jobs(ListJobs::new([example::SendReceipt::NAME]))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "the malformed order enqueued nothing");
}
