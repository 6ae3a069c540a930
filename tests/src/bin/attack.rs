//! `attack ATTACK TRANSPORT [--short]`: one misbehaving-server attack
//! against one transport, for `scripts/attack.sh`. Prints one
//! tab-separated line: attack, transport, whether the client held (bounded
//! memory, a typed answer), the code it saw, and the engine's own figures.
//! `--short` runs the CI size (smaller counts, a few seconds each).
//!
//! The fake server is `$FAKE_RKAT_RPC` (`target/debug/fake-rkat-rpc`).
//! Attacks (full size; short size in brackets):
//! - `deaf`: the child stops reading stdin; 1 MiB requests keep coming;
//! - `tool-flood`: 300000 [20000] `tool/execute` while not reading the
//!   answers;
//! - `strangers`: events of 100000 [5000] sessions nobody created;
//! - `bad-utf8`: a response with invalid UTF-8 inside a string;
//! - `huge-line`: a 70 MiB line (over the 64 MiB frame bound) before the
//!   answer, in both sizes: the answer still comes;
//! - `deep-nest`: a line of 100000 `[` before the answer;
//! - `odd-ids`: responses of unknown and odd ids (float, object, null,
//!   ...) and a duplicate answer, for two calls;
//! - `unknown-tools`: 10000 [1000] `tool/execute` of tools nobody
//!   registered, then a plain call;
//! - `connect-close`: 200 [20] connect/close cycles; no growth of open
//!   fds or threads, no zombie child;
//! - `dropped-runtime` (tokio only): the runtime that connected is
//!   dropped under a live client; the next call fails typed;
//! - `dropped-turns` (tokio only): 2000 [200] turn futures dropped at
//!   pseudo-random points, then a turn whose answer must be exact.

use std::time::{Duration, Instant};

use meerkat_transport_tokio::{ConnectOptions, DiagnosticKind, Diagnostics};
use serde_json::json;

const MIB: usize = 1 << 20;

/// Whether this is the short (CI) run.
fn short() -> bool {
    std::env::args().any(|a| a == "--short")
}

/// `full`, or `short` in the short run.
fn size(full: usize, short_size: usize) -> usize {
    if short() { short_size } else { full }
}

/// The fake's scenario for `attack`, with its size.
fn scenario(attack: &str) -> String {
    match attack {
        "tool-flood" => format!("tool-flood {}", size(300_000, 20_000)),
        "strangers" => format!("strangers {}", size(100_000, 5_000)),
        "unknown-tools" => format!("unknown-tools {}", size(10_000, 1_000)),
        "connect-close" | "dropped-runtime" | "dropped-turns" => "normal".into(),
        other => other.into(),
    }
}

/// Open fds, threads and zombie children of this process.
fn resources() -> (usize, usize, usize) {
    let count = |dir: &str| std::fs::read_dir(dir).map_or(0, Iterator::count);
    let me = std::process::id().to_string();
    let zombies = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...: the comm may hold spaces.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let ppid = fields.next();
            state == Some("Z") && ppid == Some(me.as_str())
        })
        .count();
    (count("/proc/self/fd"), count("/proc/self/task"), zombies)
}

/// Whether the resources after the cycles grew past a small slack (a
/// runtime's pool may keep a few idle threads; a leak grows with the
/// cycles).
fn grew(before: (usize, usize, usize), after: (usize, usize, usize)) -> bool {
    after.0 > before.0 + 2 || after.1 > before.1 + 4 || after.2 > 0
}

fn show_resources(
    cycles: usize,
    before: (usize, usize, usize),
    after: (usize, usize, usize),
) -> String {
    format!(
        "cycles={cycles} fds {}->{} threads {}->{} zombies {}",
        before.0, after.0, before.1, after.1, after.2
    )
}

fn options(scenario: &str) -> ConnectOptions {
    let fake = std::env::var("FAKE_RKAT_RPC").expect("FAKE_RKAT_RPC: the fake server's path");
    ConnectOptions::new()
        .rkat_path(fake)
        .env("FAKE_RKAT_SCENARIO", scenario)
        .request_timeout(Duration::from_secs(30))
}

/// Waits (polling, at most a minute) until `done` holds of the diagnostics.
fn wait_for(
    mut diagnostics: impl FnMut() -> Diagnostics,
    done: impl Fn(&Diagnostics) -> bool,
) -> Diagnostics {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let d = diagnostics();
        if done(&d) || Instant::now() > until {
            return d;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn saw(d: &Diagnostics, session: &str) -> bool {
    d.samples.iter().any(|s| s.detail.contains(session))
}

fn figures(d: &Diagnostics) -> String {
    format!(
        "output_peak={} limit={} tracked_sessions={} dropped_server_requests={} refused={}",
        d.output_peak,
        d.output_limit,
        d.tracked_sessions,
        d.count(DiagnosticKind::ServerRequestDropped),
        d.count(DiagnosticKind::WriteQueueFull)
    )
}

fn figures_with_skipped(d: &Diagnostics) -> String {
    format!(
        "oversized_frames={} skipped_lines={} {}",
        d.count(DiagnosticKind::OversizedFrame),
        d.count(DiagnosticKind::SkippedLine),
        figures(d)
    )
}

/// A row of the table: whether the client held, the code it saw, figures.
type Row = (bool, String, String);

type Answer = Result<serde_json::Value, meerkat_transport_tokio::Error>;

/// Both transports' verdicts, so "held" means the same in each.
mod verdict {
    use super::{
        Answer, DiagnosticKind, Diagnostics, MIB, Row, figures, figures_with_skipped, saw,
    };

    fn failed(e: &meerkat_transport_tokio::Error) -> Row {
        (false, e.code().into_owned(), e.to_string())
    }

    /// `huge-line`, `deep-nest`: the echo comes back, or a typed error.
    pub(crate) fn echo(answer: &Answer, d: &Diagnostics) -> Row {
        match answer {
            Ok(v) => (v["echo"]["x"] == 1, "ok".into(), figures_with_skipped(d)),
            Err(e) => (true, e.code().into_owned(), e.to_string()),
        }
    }

    /// `odd-ids`: both calls get their own first answer; the strays counted.
    pub(crate) fn odd_ids(a: &Answer, b: &Answer, d: &Diagnostics) -> Row {
        let unmatched = d.count(DiagnosticKind::UnmatchedResponse);
        match (a, b) {
            (Ok(a), Ok(b)) => (
                a["first"] == true && b["first"] == true && unmatched > 0,
                "ok".into(),
                format!("unmatched_responses={unmatched} {}", figures(d)),
            ),
            (Err(e), _) | (_, Err(e)) => failed(e),
        }
    }

    /// `unknown-tools`: the flood ended and a plain call still works.
    pub(crate) fn unknown_tools(
        listed: Result<(), &meerkat_transport_tokio::Error>,
        d: &Diagnostics,
    ) -> Row {
        match listed {
            Ok(()) => (saw(d, "tools-done"), "ok".into(), figures(d)),
            Err(e) => failed(e),
        }
    }

    /// `deaf`: a request was refused with `WRITE_QUEUE_FULL`.
    pub(crate) fn deaf(code: String, sent: usize, d: &Diagnostics) -> Row {
        (
            code == "WRITE_QUEUE_FULL",
            code,
            format!("sent={sent}MiB {}", figures(d)),
        )
    }

    /// `tool-flood`: the flood ended with the output within its bound.
    pub(crate) fn tool_flood(d: &Diagnostics) -> Row {
        let held = saw(d, "flood-done") && d.output_peak <= d.output_limit + MIB;
        (held, "-".into(), figures(d))
    }

    /// `strangers`: at most the cap of sessions tracked.
    pub(crate) fn strangers(d: &Diagnostics) -> Row {
        let held = saw(d, "strangers-done") && d.tracked_sessions <= 257;
        (held, "-".into(), figures(d))
    }

    /// `bad-utf8`: the answer arrived, decoded lossily.
    pub(crate) fn bad_utf8(answer: &Answer) -> Row {
        match answer {
            Ok(v) => (
                v["text"].as_str().is_some_and(|t| t.contains('\u{fffd}')),
                "ok".into(),
                v.to_string(),
            ),
            Err(e) => failed(e),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--short")
        .collect();
    let (attack, transport) = match args.as_slice() {
        [a, t] => (a.as_str(), t.as_str()),
        _ => {
            eprintln!(
                "usage: attack ATTACK tokio|blocking [--short] (attacks: see the source's header)"
            );
            std::process::exit(2);
        }
    };
    let (held, code, figures) = match (transport, attack) {
        ("tokio", "dropped-runtime") => tokio_dropped_runtime(),
        ("tokio", _) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(tokio_attack(attack)),
        ("blocking", _) => blocking_attack(attack),
        (other, _) => panic!("unknown transport {other}"),
    };
    println!(
        "{attack}\t{transport}\t{}\t{code}\t{figures}",
        if held { "yes" } else { "NO" }
    );
}

/// The runtime that connected is dropped while the client lives: the next
/// call, on another runtime, fails typed instead of hanging.
fn tokio_dropped_runtime() -> Row {
    use meerkat_transport_tokio::MeerkatClient;
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let client = first
        .block_on(MeerkatClient::connect(options("normal")))
        .expect("connect");
    drop(first);
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let answer = other.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), client.list_sessions()).await
    });
    drop(other);
    drop(client);
    match answer {
        Ok(Err(e)) => (
            e.code() == "CONNECTION_CLOSED",
            e.code().into_owned(),
            "the next call failed at once".into(),
        ),
        Ok(Ok(_)) => (false, "ok".into(), "answered without a driver?".into()),
        Err(_) => (false, "hang".into(), "no answer in 30 s".into()),
    }
}

async fn tokio_attack(attack: &str) -> Row {
    use meerkat_transport_tokio::MeerkatClient;
    if attack == "connect-close" {
        let cycle = || async {
            let client = MeerkatClient::connect(options("normal"))
                .await
                .expect("connect");
            client.close().await.expect("close");
        };
        cycle().await;
        let before = resources();
        let cycles = size(200, 20);
        for _ in 0..cycles {
            cycle().await;
        }
        let after = resources();
        return (
            !grew(before, after),
            "-".into(),
            show_resources(cycles, before, after),
        );
    }
    let client = MeerkatClient::connect(options(&scenario(attack)))
        .await
        .expect("connect");
    let diag = || client.diagnostics();
    match attack {
        "huge-line" | "deep-nest" => {
            let answer = client.call_raw("echo", json!({"x": 1})).await;
            verdict::echo(&answer, &diag())
        }
        "odd-ids" => {
            let a = client.call_raw("echo", json!({})).await;
            let b = client.call_raw("echo", json!({})).await;
            verdict::odd_ids(&a, &b, &diag())
        }
        "unknown-tools" => {
            let d = wait_for(diag, |d| saw(d, "tools-done"));
            let listed = client.list_sessions().await;
            verdict::unknown_tools(listed.as_ref().map(drop), &d)
        }
        "dropped-turns" => {
            use std::future::Future;
            let session = client.create_session("start").await.expect("a session");
            let turns = size(2_000, 200);
            let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
            for i in 0..turns {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let polls = rng % 5;
                let mut turn = Box::pin(session.turn(format!("dropped {i}")));
                for _ in 0..polls {
                    let done = std::future::poll_fn(|cx| {
                        std::task::Poll::Ready(turn.as_mut().poll(cx).is_ready())
                    })
                    .await;
                    if done {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                drop(turn);
            }
            match session.turn("exact").await {
                Ok(r) => (
                    r.text == "You said: exact",
                    "ok".into(),
                    format!("turns={turns} text={:?} {}", r.text, figures(&diag())),
                ),
                Err(e) => (false, e.code().into_owned(), e.to_string()),
            }
        }
        "deaf" => {
            use std::future::Future;
            use std::task::{Context, Poll, Waker};
            let blob = "x".repeat(MIB);
            let mut waiting = Vec::new();
            let mut cx = Context::from_waker(Waker::noop());
            let mut code = "none (128 MiB accepted)".to_owned();
            for _ in 0..128 {
                let c = client.clone();
                let params = json!({ "blob": blob });
                let mut call = Box::pin(async move { c.call_raw("echo", params).await });
                match call.as_mut().poll(&mut cx) {
                    Poll::Ready(Err(e)) => {
                        code = e.code().into_owned();
                        break;
                    }
                    Poll::Ready(Ok(_)) => {}
                    Poll::Pending => waiting.push(call),
                }
            }
            verdict::deaf(code, waiting.len(), &diag())
        }
        "tool-flood" => verdict::tool_flood(&wait_for(diag, |d| saw(d, "flood-done"))),
        "strangers" => verdict::strangers(&wait_for(diag, |d| saw(d, "strangers-done"))),
        "bad-utf8" => verdict::bad_utf8(&client.call_raw("echo", json!({})).await),
        other => panic!("unknown attack {other}"),
    }
}

fn blocking_attack(attack: &str) -> Row {
    use meerkat_transport_blocking::MeerkatClient;
    if attack == "connect-close" {
        let cycle = || {
            let client = MeerkatClient::connect(options("normal")).expect("connect");
            client.close().expect("close");
        };
        cycle();
        let before = resources();
        let cycles = size(200, 20);
        for _ in 0..cycles {
            cycle();
        }
        let after = resources();
        return (
            !grew(before, after),
            "-".into(),
            show_resources(cycles, before, after),
        );
    }
    let client = MeerkatClient::connect(options(&scenario(attack))).expect("connect");
    let diag = || client.diagnostics();
    match attack {
        "huge-line" | "deep-nest" => {
            verdict::echo(&client.call_raw("echo", json!({"x": 1})), &diag())
        }
        "odd-ids" => {
            let a = client.call_raw("echo", json!({}));
            let b = client.call_raw("echo", json!({}));
            verdict::odd_ids(&a, &b, &diag())
        }
        "unknown-tools" => {
            let d = wait_for(diag, |d| saw(d, "tools-done"));
            verdict::unknown_tools(client.list_sessions().as_ref().map(drop), &d)
        }
        "deaf" => {
            let blob = "x".repeat(MIB);
            let (tx, rx) = std::sync::mpsc::channel();
            let mut code = "none (128 MiB accepted)".to_owned();
            let mut sent = 0;
            for _ in 0..128 {
                let (c, tx, params) = (client.clone(), tx.clone(), json!({ "blob": blob }));
                std::thread::spawn(move || {
                    let _ = tx.send(c.call_raw("echo", params));
                });
                sent += 1;
                if let Ok(Err(e)) = rx.recv_timeout(Duration::from_millis(50)) {
                    code = e.code().into_owned();
                    break;
                }
            }
            let d = diag();
            let _ = client.close();
            verdict::deaf(code, sent, &d)
        }
        "tool-flood" => verdict::tool_flood(&wait_for(diag, |d| saw(d, "flood-done"))),
        "strangers" => verdict::strangers(&wait_for(diag, |d| saw(d, "strangers-done"))),
        "bad-utf8" => verdict::bad_utf8(&client.call_raw("echo", json!({}))),
        other => panic!("unknown attack {other}"),
    }
}
