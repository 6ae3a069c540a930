//! A multimodal prompt: text plus a PNG (the Python docs' image example).
//!
//! Run: `cargo run -p meerkat-transport-blocking --example multimodal -- screenshot.png`.

use meerkat_transport_blocking::{
    ConnectOptions, ContentBlock, Error, MeerkatClient, SessionOptions,
};

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "screenshot.png".into());
    let bytes = std::fs::read(&path)?;
    let client = MeerkatClient::connect(ConnectOptions::default())?;
    let session = client.create_session(
        SessionOptions::new(vec![
            ContentBlock::text("What do you see in this image?"),
            ContentBlock::image_bytes("image/png", &bytes),
        ])
        .model("claude-sonnet-4-5"),
    )?;
    println!("{}", session.text());
    session.archive()?;
    client.close()
}
