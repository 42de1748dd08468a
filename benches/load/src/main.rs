//! A closed-loop HTTP/1.1 load client (scripts/bench-overload.sh): CONNECTIONS keep-alive
//! connections, each sending its next request as soon as the last is answered, for SECONDS.
//! Requests come from a JSON-lines file of `{method, path, headers, body}`; with `once` each
//! line is sent at most once (single-use SAML responses, STS nonces) starting at line START,
//! with `cycle` they repeat. Answers are split into admitted (anything but 503 and 429) and
//! shed (503 or 429, which must carry `Retry-After`), each with its own latencies, so the
//! admitted p99 is not flattered by fast refusals. Prints one JSON object.
//!
//! With RATE, the load is an open loop instead: requests arrive at RATE per second whatever
//! happens to the earlier ones (as a crowd's do), each on an idle connection or a new one
//! (at most CONNECTIONS open), and latency counts from when a request was due, so a server
//! that falls behind is not flattered by a client that waited for it.
//!
//! Usage: gatehouse-load BASE_URL FILE CONNECTIONS SECONDS once|cycle [OK_STATUS] [START] [RATE]
//! `wrk` drives the closed loop too; this exists because wrk reports one latency
//! distribution for all answers and has no open loop, and a node client cannot drive the
//! STS API's rate from one core.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

#[derive(Deserialize)]
struct Line {
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
}

fn get() -> String {
    "GET".into()
}

#[derive(Default)]
struct Tally {
    admitted: Vec<f64>,
    shed: Vec<f64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    not_ok: u64,
    shed_without_retry_after: u64,
    /// Open loop: requests still unanswered 30 s after the last arrival.
    unfinished: u64,
}

impl Tally {
    fn merge(&mut self, t: Tally) {
        self.admitted.extend(t.admitted);
        self.shed.extend(t.shed);
        for (s, n) in t.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.errors += t.errors;
        self.not_ok += t.not_ok;
        self.shed_without_retry_after += t.shed_without_retry_after;
        self.unfinished += t.unfinished;
    }
}

/// A line made ready to send once, so that each send only clones reference counts.
struct Prepared {
    method: hyper::Method,
    uri: hyper::Uri,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    body: Bytes,
}

impl Prepared {
    fn from(line: Line) -> Self {
        Self {
            method: line.method.parse().expect("a method"),
            uri: line.path.parse().expect("a path"),
            headers: line
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.parse().expect("a header name"),
                        v.parse().expect("a header value"),
                    )
                })
                .collect(),
            body: Bytes::from(line.body),
        }
    }
}

struct Shared {
    lines: Vec<Prepared>,
    host: hyper::header::HeaderValue,
    next: AtomicUsize,
    once: bool,
    stop: AtomicBool,
    exhausted: AtomicBool,
    ok_status: Option<u16>,
}

impl Shared {
    fn take(&self) -> Option<&Prepared> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if self.once {
            let line = self.lines.get(i);
            if line.is_none() {
                self.exhausted.store(true, Ordering::Relaxed);
            }
            line
        } else {
            self.lines.get(i % self.lines.len())
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

fn request(shared: &Shared, line: &Prepared) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(line.body.clone()));
    *req.method_mut() = line.method.clone();
    *req.uri_mut() = line.uri.clone();
    let h = req.headers_mut();
    h.insert(hyper::header::HOST, shared.host.clone());
    for (k, v) in &line.headers {
        h.insert(k.clone(), v.clone());
    }
    req
}

async fn connect(addr: &str) -> Option<Sender> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(send)
}

/// Sends `req` on `send` and records its answer, timed from `due`; whether the connection
/// may carry another request.
async fn exchange(
    shared: &Shared,
    t: &mut Tally,
    send: &mut Sender,
    req: Request<Full<Bytes>>,
    due: Instant,
) -> bool {
    if send.ready().await.is_err() {
        t.errors += 1;
        return false;
    }
    let Ok(resp) = send.send_request(req).await else {
        t.errors += 1;
        return false;
    };
    let status = resp.status().as_u16();
    let retry_after = resp.headers().contains_key("retry-after");
    let closes = resp
        .headers()
        .get("connection")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    if resp.into_body().collect().await.is_err() {
        t.errors += 1;
        return false;
    }
    let ms = due.elapsed().as_secs_f64() * 1000.0;
    *t.statuses.entry(status).or_default() += 1;
    if status == 503 || status == 429 {
        t.shed.push(ms);
        if !retry_after {
            t.shed_without_retry_after += 1;
        }
    } else {
        t.admitted.push(ms);
        if shared.ok_status.is_some_and(|ok| ok != status) {
            t.not_ok += 1;
        }
    }
    !closes
}

/// The open loop: RATE arrivals per second for `secs`, then waits for the ones in flight.
async fn open_loop(shared: Arc<Shared>, addr: String, rate: f64, secs: f64, cap: usize) -> Tally {
    let idle: Arc<Mutex<Vec<Sender>>> = Arc::default();
    let open = Arc::new(AtomicUsize::new(0));
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let mut sent = 0u64;
    let total = (rate * secs) as u64;
    while sent < total {
        let now = Instant::now();
        let due_by_now = ((now - start).as_secs_f64() * rate) as u64;
        while sent < due_by_now.min(total) {
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            sent += 1;
            let Some(line) = shared.take() else {
                sent = total;
                break;
            };
            let req = request(&shared, line);
            let (shared, addr, idle, open, tally) = (
                shared.clone(),
                addr.clone(),
                idle.clone(),
                open.clone(),
                tally.clone(),
            );
            tasks.spawn(async move {
                let reused = idle.lock().unwrap().pop();
                let mut send = match reused {
                    Some(s) => s,
                    None => {
                        if open.fetch_add(1, Ordering::Relaxed) >= cap {
                            open.fetch_sub(1, Ordering::Relaxed);
                            tally.lock().unwrap().errors += 1;
                            return;
                        }
                        match connect(&addr).await {
                            Some(s) => s,
                            None => {
                                open.fetch_sub(1, Ordering::Relaxed);
                                tally.lock().unwrap().errors += 1;
                                return;
                            }
                        }
                    }
                };
                let mut t = Tally::default();
                let again = exchange(&shared, &mut t, &mut send, req, due).await;
                if again {
                    idle.lock().unwrap().push(send);
                } else {
                    open.fetch_sub(1, Ordering::Relaxed);
                }
                tally.lock().unwrap().merge(t);
            });
        }
        while tasks.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let unfinished = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err();
    let mut t = std::mem::take(&mut *tally.lock().unwrap());
    if unfinished {
        t.unfinished = tasks.len() as u64;
    }
    t
}

async fn connection(shared: Arc<Shared>, addr: String) -> Tally {
    let mut t = Tally::default();
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(mut send) = connect(&addr).await else {
            t.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while !shared.stop.load(Ordering::Relaxed) {
            let Some(line) = shared.take() else { return t };
            let req = request(&shared, line);
            if !exchange(&shared, &mut t, &mut send, req, Instant::now()).await {
                break;
            }
        }
    }
    t
}

fn pct(xs: &[f64], p: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let i = ((p / 100.0) * xs.len() as f64) as usize;
    Some((xs[i.min(xs.len() - 1)] * 10.0).round() / 10.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: gatehouse-load BASE_URL FILE CONNECTIONS SECONDS once|cycle [OK_STATUS] [START]");
        std::process::exit(2);
    }
    let host = args[1]
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let lines: Vec<Prepared> = std::fs::read_to_string(&args[2])
        .expect("the request file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Prepared::from(serde_json::from_str(l).expect("a JSON request line")))
        .collect();
    let conns: usize = args[3].parse().expect("CONNECTIONS");
    let secs: f64 = args[4].parse().expect("SECONDS");
    let shared = Arc::new(Shared {
        lines,
        host: host.parse().expect("a host"),
        next: AtomicUsize::new(args.get(7).map_or(0, |s| s.parse().expect("START"))),
        once: args[5] == "once",
        stop: AtomicBool::new(false),
        exhausted: AtomicBool::new(false),
        ok_status: args.get(6).and_then(|s| s.parse().ok()),
    });
    let rate: Option<f64> = args.get(8).map(|s| s.parse().expect("RATE"));
    let started = Instant::now();
    let mut all = if let Some(rate) = rate {
        open_loop(shared.clone(), host.clone(), rate, secs, conns).await
    } else {
        let tasks: Vec<_> = (0..conns)
            .map(|_| tokio::spawn(connection(shared.clone(), host.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        shared.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for task in tasks {
            all.merge(task.await.expect("a connection task"));
        }
        all
    };
    let elapsed = started.elapsed().as_secs_f64();
    all.admitted.sort_by(f64::total_cmp);
    all.shed.sort_by(f64::total_cmp);
    let used = shared.next.load(Ordering::Relaxed).min(shared.lines.len());
    println!(
        "{}",
        serde_json::json!({
            "connections": conns,
            "rate": rate,
            "unfinished": all.unfinished,
            "seconds": (elapsed * 100.0).round() / 100.0,
            "admitted_per_sec": (all.admitted.len() as f64 / elapsed).round(),
            "shed_per_sec": (all.shed.len() as f64 / elapsed).round(),
            "admitted_p50_ms": pct(&all.admitted, 50.0),
            "admitted_p99_ms": pct(&all.admitted, 99.0),
            "shed_p99_ms": pct(&all.shed, 99.0),
            "statuses": all.statuses,
            "errors": all.errors,
            "not_ok": all.not_ok,
            "shed_without_retry_after": all.shed_without_retry_after,
            "ran_out_of_requests": shared.exhausted.load(Ordering::Relaxed),
            "next_line": if shared.once { used } else { 0 },
        })
    );
}
