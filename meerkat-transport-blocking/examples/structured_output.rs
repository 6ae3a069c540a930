//! Structured output with a JSON Schema and retries (the Python docs'
//! "Tokyo" example).
//!
//! Run: `cargo run -p meerkat-transport-blocking --example structured_output`.

use meerkat_transport_blocking::{ConnectOptions, Error, MeerkatClient, SessionOptions};
use serde_json::json;

fn main() -> Result<(), Error> {
    let schema = json!({
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "country": {"type": "string"},
            "population": {"type": "integer"},
        },
        "required": ["city", "country", "population"],
    });
    let client = MeerkatClient::connect(ConnectOptions::default())?;
    let session = client.create_session(
        SessionOptions::new("Give me information about Tokyo.")
            .output_schema(schema)
            .structured_output_retries(3),
    )?;
    println!("{:?}", session.structured_output());
    session.archive()?;
    client.close()
}
