//! Grades lab 1: the TCP echo server. `cargo test --test lab1_echo`.
//!
//! Each test starts a server in-process on port 0 (a free port), talks to
//! it over real sockets on 127.0.0.1, and says on failure what was sent,
//! what came back, and which section of `docs/lab1_echo.md` explains it.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use support::{Example, Failure, Rng, connect, example_binary, read_to_end, run_example};
use weaprous::echo::EchoService;
use weaprous::net::{Config, Running, Server};

/// Starts an echo server on a free port with the given connection cap.
fn start_echo(max_connections: usize) -> Running {
    let config = Config {
        max_connections,
        ..Config::default()
    };
    let server = Server::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config).expect("bind");
    server
        .start(EchoService { quiet: true })
        .expect("start the server")
}

/// Sends `payload`, reads the same number of bytes back, and checks them.
fn round_trip(stream: &mut TcpStream, payload: &[u8], step: &str) {
    stream.write_all(payload).expect("send");
    let mut echoed = vec![0u8; payload.len()];
    if let Err(error) = stream.read_exact(&mut echoed) {
        panic!(
            "{}",
            Failure {
                step: &format!("{step}: reading the echo failed ({error})"),
                sent: payload,
                received: &echoed,
                expected: "the same bytes back",
                doc: "docs/lab1_echo.md, \"The echo loop\"",
            }
        );
    }
    assert!(
        echoed == payload,
        "{}",
        Failure {
            step,
            sent: payload,
            received: &echoed,
            expected: "the same bytes back, in the same order",
            doc: "docs/lab1_echo.md, \"The echo loop\"",
        }
    );
}

#[test]
fn lab1_one_mib_binary_payload_echoed_while_writing_and_reading() {
    let server = start_echo(16);
    let mut rng = Rng::from_time();
    let payload = rng.bytes(1024 * 1024);
    let mut stream = connect(server.addr());

    // Write from one thread and read from another at the same time: a
    // client that wrote everything before reading could deadlock against
    // any server once both sides' socket buffers are full.
    let mut writer = stream.try_clone().expect("clone socket");
    let to_send = payload.clone();
    let mut chunk_rng = Rng::new(rng.next_u64());
    let sender = thread::spawn(move || {
        let mut sent = 0;
        while sent < to_send.len() {
            let chunk = (1 + chunk_rng.below(64 * 1024)).min(to_send.len() - sent);
            writer.write_all(&to_send[sent..sent + chunk])?;
            sent += chunk;
        }
        writer.shutdown(Shutdown::Write)
    });
    let echoed = read_to_end(&mut stream);
    sender
        .join()
        .expect("sender thread")
        .expect("sending the payload");

    let first_difference = payload.iter().zip(&echoed).position(|(a, b)| a != b);
    assert!(
        echoed == payload,
        "sent {} random bytes (seed {}), got {} back; first difference at byte {:?}.\n\
         Expected every byte back, unchanged: TCP is a byte stream and the echo loop \
         must copy whatever each read returns (docs/lab1_echo.md, \"A byte stream, not messages\")",
        payload.len(),
        rng.seed,
        echoed.len(),
        first_difference
    );
}

#[test]
fn lab1_fifty_concurrent_clients_each_get_their_own_bytes() {
    const CLIENTS: usize = 50;
    let server = start_echo(64);
    let addr = server.addr();
    // Every client connects and gets its first echo while all 50 are open:
    // a server that serves one connection at a time cannot pass the barrier.
    let all_connected = Arc::new(Barrier::new(CLIENTS));
    let seed = Rng::from_time().next_u64();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let all_connected = Arc::clone(&all_connected);
            thread::spawn(move || {
                let mut rng = Rng::new(seed + client as u64);
                let mut stream = connect(addr);
                let greeting = format!("client {client} says hello\n");
                round_trip(
                    &mut stream,
                    greeting.as_bytes(),
                    "first echo of one of 50 clients",
                );
                all_connected.wait();
                let len = 1 + rng.below(32 * 1024);
                let payload = rng.bytes(len);
                round_trip(&mut stream, &payload, "second echo of one of 50 clients");
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap_or_else(|_| {
            panic!(
                "a client failed (see its message above). With {CLIENTS} clients connected at \
                 once, each needs its own thread (docs/lab1_echo.md, \"One thread per connection\")"
            )
        });
    }
}

#[test]
fn lab1_half_close_gets_every_byte_then_end_of_stream() {
    let server = start_echo(16);
    let mut stream = connect(server.addr());
    let payload = Rng::from_time().bytes(100_000);
    stream.write_all(&payload).expect("send");
    // "I have nothing more to send" — but the echo is still on its way.
    stream.shutdown(Shutdown::Write).expect("half-close");
    let echoed = read_to_end(&mut stream);
    assert!(
        echoed == payload,
        "{}",
        Failure {
            step: "sent 100,000 bytes, then shut down the client's write side",
            sent: &payload,
            received: &echoed,
            expected: "all 100,000 bytes back, then the server closes (read returns 0)",
            doc: "docs/lab1_echo.md, \"Half-close\"",
        }
    );
}

#[test]
fn lab1_clients_that_connect_and_close_at_once_do_not_hurt() {
    let server = start_echo(64);
    for _ in 0..20 {
        drop(connect(server.addr()));
    }
    // Connections are accepted in order, so once this client is served the
    // twenty before it have been accepted too.
    let mut stream = connect(server.addr());
    round_trip(
        &mut stream,
        b"still alive?\n",
        "a normal client after 20 that left at once",
    );
    drop(stream);
    assert!(
        server.wait_for_connections_at_most(0, support::STEP_TIMEOUT),
        "21 clients connected and closed; expected the server to end every connection and \
         free its slot, but {} are still open (docs/lab1_echo.md, \"Limits\")",
        server.connections()
    );
}

#[test]
fn lab1_connection_cap_refuses_the_one_too_many() {
    let server = start_echo(2);
    let mut first = connect(server.addr());
    let mut second = connect(server.addr());
    round_trip(&mut first, b"one\n", "first of two allowed connections");
    round_trip(&mut second, b"two\n", "second of two allowed connections");

    // The third connects (the kernel completes the handshake) but the
    // server, at its cap, closes it without serving it.
    let mut third = connect(server.addr());
    let _ = third.write_all(b"three\n");
    let mut received = Vec::new();
    let outcome = third.read_to_end(&mut received);
    let refused = match &outcome {
        Ok(_) => received.is_empty(),
        Err(error) => matches!(
            error.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        ),
    };
    assert!(
        refused,
        "{}",
        Failure {
            step: "with --max-connections 2 and two clients connected, a third connected",
            sent: b"three\n",
            received: &received,
            expected: "the connection closed at once, nothing echoed",
            doc: "docs/lab1_echo.md, \"Limits\"",
        }
    );

    // When one leaves, its slot is free again.
    drop(first);
    assert!(
        server.wait_for_connections_at_most(1, support::STEP_TIMEOUT),
        "the first client closed; expected its slot to be freed"
    );
    let mut fourth = connect(server.addr());
    round_trip(&mut fourth, b"four\n", "a new client after one of two left");
    round_trip(
        &mut second,
        b"two again\n",
        "the second client, still served",
    );
}

#[test]
fn lab1_shutdown_lets_in_flight_connections_finish_then_stops_accepting() {
    let server = start_echo(16);
    let addr = server.addr();
    let mut client = connect(addr);
    round_trip(
        &mut client,
        b"before shutdown\n",
        "a client connected before shutdown",
    );

    let stopper = thread::spawn(move || server.shutdown(support::STEP_TIMEOUT));
    // The in-flight client is still served during the grace period...
    round_trip(
        &mut client,
        b"during shutdown\n",
        "the same client during shutdown",
    );
    client.shutdown(Shutdown::Write).expect("half-close");
    assert_eq!(
        read_to_end(&mut client),
        b"",
        "the server closes after half-close"
    );
    // ...and once it is done, shutdown completes without forcing anything.
    let report = stopper.join().expect("shutdown thread");
    assert_eq!(
        report.forced, 0,
        "the client finished within the grace period; nothing should be force-closed"
    );
    assert!(
        !is_listening(addr),
        "after shutdown the listener should be closed and refuse connections"
    );
}

/// Whether something accepts connections on `addr`. A connection to a free
/// loopback port can, rarely, connect to *itself* (TCP simultaneous open,
/// when the kernel picks that very port as the client's own): that is not
/// a listener.
fn is_listening(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(stream) => stream.local_addr().ok() != Some(addr),
        Err(_) => false,
    }
}

#[test]
fn lab1_shutdown_force_closes_idle_connections_after_the_grace_period() {
    let server = start_echo(16);
    let mut idle = connect(server.addr());
    round_trip(&mut idle, b"hi\n", "an idle client");
    let report = server.shutdown(Duration::ZERO);
    assert_eq!(
        (report.forced, report.stuck),
        (1, 0),
        "one idle client was open at shutdown with no grace: expected it closed by force \
         and its thread ended"
    );
    assert_eq!(
        read_to_end(&mut idle),
        b"",
        "the idle client sees end of stream"
    );
}

#[test]
fn lab1_real_binary_echoes_and_logs_each_connection() {
    let server = Example::start("lab1_echo", &["--port", "0"]);
    let mut stream = connect(server.addr);
    round_trip(&mut stream, b"hello over nc\n", "the real lab1_echo binary");
    stream.shutdown(Shutdown::Write).expect("half-close");
    assert_eq!(read_to_end(&mut stream), b"");
    let line = server.wait_for_log("echoed 14 bytes");
    let port = stream.local_addr().expect("local address").port();
    assert!(
        line.contains(&format!("127.0.0.1:{port}")) && line.contains(" ms"),
        "expected one stderr line per connection with the peer address, the bytes and the \
         duration; got {line:?} (docs/lab1_echo.md, \"Running it\")"
    );
}

#[test]
fn lab1_real_binary_bad_flags_are_one_line_and_exit_code_2() {
    for args in [
        &["--port", "abc"][..],
        &["--port", "70000"],
        &["--server-port", "-5"],
        &["--host", "not-an-ip"],
        &["--idle-timeout", "soon"],
        &["--idle-timeout", "0"],
        &["--idle-timeout", "18446744073709551615"],
        &["--no-such-flag"],
        &["--port"],
    ] {
        let (code, stdout, stderr) = run_example("lab1_echo", args);
        assert_eq!(
            code,
            Some(2),
            "lab1_echo {args:?} should exit with code 2; stderr: {stderr:?}"
        );
        assert!(
            stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
            "lab1_echo {args:?}: expected one `error: ...` line on stderr, got {stderr:?}"
        );
        assert!(
            stdout.is_empty(),
            "nothing on stdout for a bad flag, got {stdout:?}"
        );
    }
    let (code, help, _) = run_example("lab1_echo", &["--help"]);
    assert_eq!(code, Some(0), "--help exits with code 0");
    for flag in [
        "--host",
        "--server-ip",
        "--port",
        "--server-port",
        "--max-connections",
        "--quiet",
        "--idle-timeout",
    ] {
        assert!(help.contains(flag), "--help should list {flag}:\n{help}");
    }
}

#[test]
fn lab1_real_binary_survives_running_out_of_file_descriptors() {
    // Start the binary with only 16 file descriptors: 3 for stdio, one for
    // the listener, one per served connection. Twenty clients are more than
    // it can accept, so `accept` fails with "too many open files".
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 16 && exec \"$0\" \"$@\"")
        .arg(example_binary("lab1_echo"))
        .args(["--port", "0", "--quiet"]);
    let server = Example::spawn(command, "lab1_echo under ulimit -n 16");
    let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(server.addr)).collect();
    let _ = clients[0].write_all(b"x");
    server.wait_for_log("accept failed");

    // Once the clients leave, the server recovers and serves again.
    clients.clear();
    let mut stream = connect(server.addr);
    round_trip(
        &mut stream,
        b"after the storm\n",
        "a client after accept had failed for lack of file descriptors",
    );
}
