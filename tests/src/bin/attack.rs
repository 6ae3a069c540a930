//! `attack ATTACK TRANSPORT`: one misbehaving-server attack against one
//! transport, for `scripts/attack.sh`. Prints one tab-separated line:
//! attack, transport, whether the client held (bounded memory, a typed
//! answer), the code it saw, and the engine's own figures.
//!
//! The fake server is `$FAKE_RKAT_RPC` (`target/debug/fake-rkat-rpc`).
//! Attacks: `deaf` (the child stops reading stdin; 1 MiB requests keep
//! coming), `tool-flood` (300000 `tool/execute` while not reading the
//! answers), `strangers` (events of 100000 sessions nobody created),
//! `bad-utf8` (a response with invalid UTF-8 inside a string).

use std::time::{Duration, Instant};

use meerkat_transport_tokio::{ConnectOptions, DiagnosticKind, Diagnostics};
use serde_json::json;

const MIB: usize = 1 << 20;

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (attack, transport) = match args.as_slice() {
        [a, t] => (a.as_str(), t.as_str()),
        _ => {
            eprintln!("usage: attack deaf|tool-flood|strangers|bad-utf8 tokio|blocking");
            std::process::exit(2);
        }
    };
    let (held, code, figures) = match transport {
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(tokio_attack(attack)),
        "blocking" => blocking_attack(attack),
        other => panic!("unknown transport {other}"),
    };
    println!(
        "{attack}\t{transport}\t{}\t{code}\t{figures}",
        if held { "yes" } else { "NO" }
    );
}

async fn tokio_attack(attack: &str) -> (bool, String, String) {
    use meerkat_transport_tokio::MeerkatClient;
    let client = MeerkatClient::connect(options(attack))
        .await
        .expect("connect");
    let diag = || client.diagnostics();
    match attack {
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
            let d = diag();
            (
                code == "WRITE_QUEUE_FULL",
                code,
                format!("sent={}MiB {}", waiting.len(), figures(&d)),
            )
        }
        "tool-flood" => {
            let d = wait_for(diag, |d| saw(d, "flood-done"));
            let held = saw(&d, "flood-done") && d.output_peak <= d.output_limit + MIB;
            (held, "-".into(), figures(&d))
        }
        "strangers" => {
            let d = wait_for(diag, |d| saw(d, "strangers-done"));
            let held = saw(&d, "strangers-done") && d.tracked_sessions <= 257;
            (held, "-".into(), figures(&d))
        }
        "bad-utf8" => match client.call_raw("echo", json!({})).await {
            Ok(v) => (
                v["text"].as_str().is_some_and(|t| t.contains('\u{fffd}')),
                "ok".into(),
                v.to_string(),
            ),
            Err(e) => (false, e.code().into_owned(), e.to_string()),
        },
        other => panic!("unknown attack {other}"),
    }
}

fn blocking_attack(attack: &str) -> (bool, String, String) {
    use meerkat_transport_blocking::MeerkatClient;
    let client = MeerkatClient::connect(options(attack)).expect("connect");
    let diag = || client.diagnostics();
    match attack {
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
            (
                code == "WRITE_QUEUE_FULL",
                code,
                format!("sent={sent}MiB {}", figures(&d)),
            )
        }
        "tool-flood" => {
            let d = wait_for(diag, |d| saw(d, "flood-done"));
            let held = saw(&d, "flood-done") && d.output_peak <= d.output_limit + MIB;
            (held, "-".into(), figures(&d))
        }
        "strangers" => {
            let d = wait_for(diag, |d| saw(d, "strangers-done"));
            let held = saw(&d, "strangers-done") && d.tracked_sessions <= 257;
            (held, "-".into(), figures(&d))
        }
        "bad-utf8" => match client.call_raw("echo", json!({})) {
            Ok(v) => (
                v["text"].as_str().is_some_and(|t| t.contains('\u{fffd}')),
                "ok".into(),
                v.to_string(),
            ),
            Err(e) => (false, e.code().into_owned(), e.to_string()),
        },
        other => panic!("unknown attack {other}"),
    }
}
