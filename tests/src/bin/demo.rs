//! The main job: the Meerkat Rust SDK against a real `rkat-rpc` 0.5.2.
//!
//! Run with `scripts/demo.sh` (it installs `rkat-rpc` into the cache when
//! missing). With `ANTHROPIC_API_KEY` set the demo talks to Anthropic;
//! otherwise to the project's scripted Anthropic-compatible LLM on
//! 127.0.0.1, and it says which.
//!
//! It shows, through the tokio transport: connect and capabilities, a
//! multi-turn session, a streamed turn with typed events, structured
//! output, a callback tool, history, and the blocking transport doing the
//! same first turn from plain sync code.

use std::io::Write as _;
use std::time::Instant;

use meerkat_tests::llm::ScriptedLlm;
use meerkat_tests::real::{RealServer, rkat_rpc_path};
use meerkat_transport_tokio::{
    ConnectOptions, Event, MeerkatClient, SessionOptions, ToolDef, ToolOutput,
};
use serde_json::{Value, json};

/// Where the LLM calls go.
enum Backend {
    /// The real Anthropic API (the user's key).
    Anthropic,
    /// The scripted LLM and the isolated realm around it.
    /// (The LLM is held so it lives as long as the server that calls it.)
    Scripted(#[allow(dead_code)] ScriptedLlm, RealServer),
}

impl Backend {
    fn options(&self) -> ConnectOptions {
        match self {
            Self::Anthropic => ConnectOptions::new()
                .rkat_path(rkat_rpc_path())
                .isolated(true),
            Self::Scripted(_, server) => server.connect_options(),
        }
    }

    /// A prompt, with a scripted-LLM marker when offline.
    fn prompt(&self, text: &str, marker: &str) -> String {
        match self {
            Self::Anthropic => text.to_owned(),
            Self::Scripted(..) => format!("{text} {marker}"),
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let backend = if std::env::var_os("ANTHROPIC_API_KEY").is_some_and(|k| !k.is_empty()) {
        println!("LLM: the real Anthropic API (ANTHROPIC_API_KEY is set)");
        Backend::Anthropic
    } else {
        let llm = ScriptedLlm::start();
        let server = RealServer::new(&llm);
        println!(
            "LLM: the scripted Anthropic-compatible server at {} (offline; set ANTHROPIC_API_KEY for the real API)",
            llm.url()
        );
        Backend::Scripted(llm, server)
    };
    println!("rkat-rpc: {}", rkat_rpc_path().display());

    // Connect: spawn, handshake, contract check, capabilities.
    let client = MeerkatClient::connect(backend.options()).await?;
    let info = client.server_info();
    println!(
        "\n== connected to {} {} (contract {})",
        info.name, info.version, info.contract_version
    );
    let available: Vec<&str> = client
        .capabilities()
        .iter()
        .filter(|c| c.is_available())
        .map(|c| c.id.as_str())
        .collect();
    println!("capabilities: {}", available.join(", "));

    // Multi-turn.
    println!("\n== multi-turn session");
    let session = client
        .create_session(
            SessionOptions::new("You are a helpful math tutor. What is 12 * 15?")
                .model("claude-sonnet-4-5"),
        )
        .await?;
    println!("session {}", session.id());
    println!("turn 1: {}", session.text());
    let result = session.turn("Now divide that result by 3.").await?;
    println!(
        "turn 2: {} ({} in / {} out tokens)",
        result.text, result.usage.input_tokens, result.usage.output_tokens
    );

    // Streaming with typed events.
    println!("\n== streaming");
    let mut events = session
        .stream(backend.prompt("Give me three facts about penguins.", "[[chunks 8]]"))
        .await?;
    let mut deltas = 0;
    while let Some(event) = events.next().await {
        match event? {
            Event::TextDelta { delta, .. } => {
                deltas += 1;
                print!("{delta}");
                std::io::stdout().flush()?;
            }
            Event::TurnCompleted { usage, .. } => {
                println!(
                    "\n[turn completed: {} in / {} out]",
                    usage.input_tokens, usage.output_tokens
                );
            }
            Event::EventsLost { missing } => println!("\n[{missing} events lost by the server]"),
            _ => {}
        }
    }
    println!(
        "{deltas} text deltas; result text has {} chars",
        events.result().map_or(0, |r| r.text.len())
    );

    // Structured output.
    println!("\n== structured output");
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "country", "population"],
    });
    let tokyo = client
        .create_session(
            SessionOptions::new(backend.prompt(
                "Give me information about Tokyo.",
                r#"[[json {"city":"Tokyo","country":"Japan","population":13960000}]]"#,
            ))
            .model("claude-sonnet-4-5")
            .output_schema(schema)
            .structured_output_retries(3),
        )
        .await?;
    println!(
        "structured_output: {}",
        tokyo.structured_output().unwrap_or(Value::Null)
    );

    // A callback tool the model calls back into this process.
    println!("\n== callback tool");
    client
        .register_tool(
            ToolDef::new("lookup_order", "Looks up an order by id")
                .input_schema(json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]})),
            |args: Value| async move {
                let id = args["id"].as_str().unwrap_or("?").to_owned();
                Ok::<_, String>(ToolOutput::text(format!("order {id}: shipped")))
            },
        )
        .await?;
    let orders = client
        .create_session(SessionOptions::new("Hello").model("claude-sonnet-4-5"))
        .await?;
    let answer = orders
        .turn(backend.prompt(
            "Where is order A-17? Use the lookup_order tool.",
            r#"[[tool lookup_order {"id":"A-17"}]]"#,
        ))
        .await?;
    println!("{} ({} tool call)", answer.text, answer.tool_calls);

    // History.
    let history = session.history(0, None).await?;
    println!(
        "\n== history: {} messages in the tutor session",
        history.message_count
    );

    session.archive().await?;
    client.close().await?;

    // The same SDK from plain sync code.
    println!("\n== blocking transport");
    let options = backend.options();
    let blocking = tokio::task::spawn_blocking(
        move || -> Result<String, meerkat_transport_blocking::Error> {
            let client = meerkat_transport_blocking::MeerkatClient::connect(options)?;
            // NB: an explicit model: a 0.9 server's default one is not Anthropic's.
            let session = client.create_session(
                SessionOptions::new("Hello from blocking code").model("claude-sonnet-4-5"),
            )?;
            let text = session.text();
            client.close()?;
            Ok(text)
        },
    )
    .await??;
    println!("{blocking}");

    println!("\ndemo finished in {:.1?}", started.elapsed());
    Ok(())
}
