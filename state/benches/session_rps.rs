//! Requests per second of a tiny axum handler that reads and writes one
//! session key, against the same handler with no session and with
//! `tower-sessions`' memory store, measured in one run on loopback.
//!
//! Run with: `cargo bench -p state --bench session_rps`
//! (`SESSION_BENCH_SECS` sets the seconds per measurement, default 2;
//! `SESSION_BENCH_ROUNDS` the rounds, default 7; `SESSION_BENCH_CONNECTIONS`
//! the keep-alive connections, default 32).
//!
//! Each connection is one browser: it keeps the cookie it was given, so every
//! request after the first reads and writes its own existing session. The load
//! generator is a minimal HTTP/1.1 keep-alive client on raw `TcpStream`s in the
//! same process. The three servers are measured one after another in each
//! round; the report gives each server's median requests/s and the median of
//! the per-round ratios (paired within a round, which cancels most of the
//! drift of a shared machine). This measures; it asserts nothing about time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use state::{MemoryStore, Session, SessionLayer, state_keys};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

state_keys! {
    /// The key the benchmarked handler reads and writes.
    HITS: u64 = 0;
}

fn main() {
    let secs = env_or("SESSION_BENCH_SECS", 2);
    let rounds = env_or("SESSION_BENCH_ROUNDS", 7usize).max(1);
    let connections = env_or("SESSION_BENCH_CONNECTIONS", 32);
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let variants: [(&str, SocketAddr); 3] = servers.block_on(async {
        [
            (
                "no session",
                serve(Router::new().route("/", get(|| async { "1" }))).await,
            ),
            ("state::Session (memory)", serve(ours()).await),
            ("tower-sessions (memory)", serve(tower_sessions_app()).await),
        ]
    });

    let mut results: Vec<[f64; 3]> = Vec::new();
    for round in 1..=rounds {
        let mut rps = [0.0; 3];
        for (i, (name, addr)) in variants.iter().enumerate() {
            rps[i] = client.block_on(load(*addr, connections, Duration::from_secs(secs)));
            eprintln!("round {round}: {name:<26} {:>10.0} req/s", rps[i]);
        }
        results.push(rps);
    }
    let median = |f: &dyn Fn(&[f64; 3]) -> f64| {
        let mut values: Vec<f64> = results.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "\n{connections} keep-alive connections, {secs} s per measurement, {rounds} rounds (medians)"
    );
    println!("{:<26} {:>12} {:>10}", "server", "req/s", "vs none");
    for (i, (name, _)) in variants.iter().enumerate() {
        println!(
            "{name:<26} {:>12.0} {:>9.2}x",
            median(&|r| r[i]),
            median(&|r| r[i] / r[0])
        );
    }
    println!(
        "state::Session / tower-sessions: {:.2}x",
        median(&|r| r[1] / r[2])
    );
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn ours() -> Router {
    Router::new()
        .route(
            "/",
            get(|session: Session| async move {
                let hits = session.get(&HITS).await + 1;
                session.set(&HITS, hits).await.map(|()| hits.to_string())
            }),
        )
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false))
}

fn tower_sessions_app() -> Router {
    use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
    Router::new()
        .route(
            "/",
            get(|session: Session| async move {
                let hits = session.get::<u64>("hits").await.unwrap().unwrap_or(0) + 1;
                session.insert("hits", hits).await.unwrap();
                hits.to_string()
            }),
        )
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
}

/// Drives `addr` with `connections` keep-alive clients for `duration`; returns requests/s.
async fn load(addr: SocketAddr, connections: usize, duration: Duration) -> f64 {
    // Warm up: open the connections and create their sessions.
    let mut clients = Vec::new();
    for _ in 0..connections {
        let mut client = Client::connect(addr).await;
        client.request().await;
        clients.push(client);
    }
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let (done, count) = (Arc::clone(&done), Arc::clone(&count));
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    client.request().await;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// A minimal HTTP/1.1 keep-alive client with a one-cookie jar.
struct Client {
    stream: BufReader<TcpStream>,
    cookie: Option<String>,
    line: String,
    body: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream: BufReader::new(stream),
            cookie: None,
            line: String::new(),
            body: Vec::new(),
        }
    }

    async fn request(&mut self) {
        let mut head = String::from("GET / HTTP/1.1\r\nHost: bench\r\n");
        if let Some(cookie) = &self.cookie {
            head.push_str("Cookie: ");
            head.push_str(cookie);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.stream
            .get_mut()
            .write_all(head.as_bytes())
            .await
            .unwrap();
        let mut length = 0;
        let mut status_line = true;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await.unwrap();
            let line = self.line.trim_end();
            if status_line {
                assert!(
                    line.starts_with("HTTP/1.1 200"),
                    "unexpected response: {line}"
                );
                status_line = false;
                continue;
            }
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            } else if name.eq_ignore_ascii_case("set-cookie") {
                self.cookie = value.trim().split(';').next().map(str::to_owned);
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await.unwrap();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
