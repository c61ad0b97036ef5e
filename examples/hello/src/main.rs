//! `hello`: the workload the quickstart and the cluster tests deploy on the real node, built
//! into a FROM-scratch image by `cargo xtask image`. Standard library only.
//!
//! - `hello` serves HTTP on `PORT` (default 8080): `GET /` answers `GREETING` (default
//!   "hello") and a newline, `GET /readyz` answers 200, or 503 when `READY=false` (a failing
//!   readiness probe), anything else 404.
//! - `hello exit CODE` exits at once with CODE (a workload that fails).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, code] = args.as_slice()
        && cmd == "exit"
    {
        eprintln!("hello: exiting with {code} as asked");
        std::process::exit(code.parse().unwrap_or(1));
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello".into());
    let ready = std::env::var("READY").map_or(true, |v| v != "false");
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hello: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("hello: serving {greeting:?} on port {port} (ready: {ready})");
    for stream in listener.incoming().flatten() {
        // One request per connection, each on its own thread: a slow client blocks no one.
        let greeting = greeting.clone();
        std::thread::spawn(move || serve(stream, &greeting, ready));
    }
}

fn serve(mut stream: TcpStream, greeting: &str, ready: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    // The request line is all this server reads: at most 8 KiB of it.
    let mut reader = BufReader::new((&stream).take(8 * 1024));
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/" => ("200 OK", format!("{greeting}\n")),
        "/readyz" if ready => ("200 OK", "ok\n".to_string()),
        "/readyz" => ("503 Service Unavailable", "not ready\n".to_string()),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
