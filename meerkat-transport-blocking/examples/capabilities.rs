//! Capability listing and guards (the Python docs' capabilities example).
//!
//! Run: `cargo run -p meerkat-transport-blocking --example capabilities`.

use meerkat_transport_blocking::{ConnectOptions, Error, MeerkatClient};

fn main() -> Result<(), Error> {
    let client = MeerkatClient::connect(ConnectOptions::default())?;
    println!("Available capabilities:");
    for cap in client.capabilities().iter().filter(|c| c.is_available()) {
        println!("  {}: {}", cap.id, cap.description);
    }
    if client.has_capability("skills") {
        println!("Skills are available");
    }
    match client.require_capability("comms") {
        Ok(()) => println!("Comms capability confirmed"),
        Err(e) => println!("Comms not available: {e}"),
    }
    client.close()
}
