//! Built-in and shell tools (the Python docs' "hello.txt" example). The
//! SDK sends `enable_builtins`/`enable_shell` only as asked: without these
//! two setters the session gets no such tools.
//!
//! Run: `cargo run -p meerkat-transport-blocking --example builtins_shell`.

use meerkat_transport_blocking::{ConnectOptions, Error, MeerkatClient, SessionOptions};

fn main() -> Result<(), Error> {
    let client = MeerkatClient::connect(ConnectOptions::default())?;
    let session = client.create_session(
        SessionOptions::new("Create a file called hello.txt with 'Hello World' in it")
            .enable_builtins(true)
            .enable_shell(true),
    )?;
    println!("Response: {}", session.text());
    println!("Tool calls made: {}", session.tool_calls());
    session.archive()?;
    client.close()
}
