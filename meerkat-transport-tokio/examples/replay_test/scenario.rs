//! The session the example records and replays: a plain function of the
//! client, the same live and in a replay.

use meerkat_transport_tokio::{ConnectOptions, Error, Event, MeerkatClient, SessionOptions};

/// What the session produced, for comparing a live run with its replay.
#[derive(Debug, PartialEq)]
pub(crate) struct Outcome {
    /// The session's id (as recorded: a replay plays the server's ids).
    pub(crate) session_id: String,
    /// The text of the first turn, the second, and the streamed third.
    pub(crate) texts: Vec<String>,
    /// The streamed turn's events.
    pub(crate) events: Vec<Event>,
}

/// Connect, create a session, a turn, a streamed turn, close.
pub(crate) async fn run(options: ConnectOptions) -> Result<Outcome, Error> {
    let client = MeerkatClient::connect(options).await?;
    let session = client
        .create_session(
            SessionOptions::new("What is the capital of France?").model("claude-sonnet-4-5"),
        )
        .await?;
    let mut texts = vec![session.text()];
    texts.push(session.turn("And of Germany?").await?.text);
    let mut stream = session.stream("And of Italy? [[chunks 3]]").await?;
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event?);
    }
    texts.push(stream.result().map(|r| r.text.clone()).unwrap_or_default());
    if let Some(progress) = client.replay_progress() {
        // Every request the recording made was made again.
        assert_eq!(progress.matched, progress.expected, "{progress:?}");
    }
    client.close().await?;
    Ok(Outcome {
        session_id: session.id().to_owned(),
        texts,
        events,
    })
}
