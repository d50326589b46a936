//! docs/defaults.md states the defaults of every binding; this test reads the page and checks
//! the Rust column against `ClientOptions::default()`, `ServerOptions::default()`,
//! `Limits::DEFAULT` and `XClientOptions::default()`.

use std::time::Duration;

use rpcx::client::ClientOptions;
use rpcx::protocol::{CompressType, Limits, SerializeType, COMPRESS_THRESHOLD};
use rpcx::server::ServerOptions;
use rpcx::xclient::{FailMode, SelectMode, XClientOptions};

/// The page, read from the repository.
fn page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/defaults.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The value part (before ` — `) of the cell in `column` of the row whose first cell is
/// `` `key` `` in the table under the heading `## section`.
fn cell(page: &str, section: &str, key: &str, column: &str) -> String {
    let start = page
        .find(&format!("\n## {section}\n"))
        .unwrap_or_else(|| panic!("no section {section:?}"));
    let body = &page[start + 1..];
    let body = &body[..body[3..].find("\n## ").map_or(body.len(), |i| i + 3)];
    let rows: Vec<Vec<&str>> = body
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let header = &rows[0];
    let col = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column:?} in {section}: {header:?}"));
    let row = rows
        .iter()
        .find(|r| r[0] == format!("`{key}`"))
        .unwrap_or_else(|| panic!("no row `{key}` in {section}"));
    row[col].split(" — ").next().unwrap().trim().to_owned()
}

fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        n.to_string()
    }
}

fn duration(d: Option<Duration>) -> String {
    match d {
        None => "none".into(),
        Some(d) if d.subsec_nanos() == 0 => format!("{} s", d.as_secs()),
        Some(d) => format!("{} ms", d.as_millis()),
    }
}

fn codec(st: SerializeType) -> &'static str {
    match st {
        SerializeType::RAW => "raw",
        SerializeType::JSON => "JSON",
        SerializeType::PROTOBUF => "Protobuf",
        SerializeType::MSGPACK => "MsgPack",
        _ => "other",
    }
}

#[test]
fn rust_client_defaults_match_the_page() {
    let page = page();
    let o = ClientOptions::default();
    let l = o.limits;
    let want: [(&str, String); 12] = [
        ("codec", codec(o.serialize_type).into()),
        ("call_timeout", duration(o.default_timeout)),
        ("connect_timeout", duration(Some(o.connect_timeout))),
        (
            "heartbeat",
            if o.heartbeat_interval.is_none() {
                "off".into()
            } else {
                duration(o.heartbeat_interval)
            },
        ),
        ("heartbeat_timeout", duration(Some(o.heartbeat_timeout))),
        (
            "compression",
            if o.compress_type == CompressType::NONE {
                "none".into()
            } else {
                format!("{:?}", o.compress_type)
            },
        ),
        ("compress_threshold", bytes(o.compress_threshold)),
        ("frame_limit", bytes(l.max_frame_len as usize)),
        ("decompressed_limit", bytes(l.max_decompressed_len)),
        ("metadata_entries", l.max_metadata_entries.to_string()),
        ("metadata_bytes", bytes(l.max_metadata_bytes)),
        ("unsent_bytes", bytes(o.max_unsent_bytes)),
    ];
    for (key, value) in want {
        assert_eq!(cell(&page, "Client", key, "Rust"), value, "Client `{key}`");
    }
    assert_eq!(o.compress_threshold, COMPRESS_THRESHOLD);
    assert_eq!(l, Limits::DEFAULT);
}

#[test]
fn rust_server_defaults_match_the_page() {
    let page = page();
    let o = ServerOptions::default();
    let want: [(&str, String); 9] = [
        ("frame_limit", bytes(o.limits.max_frame_len as usize)),
        ("decompressed_limit", bytes(o.limits.max_decompressed_len)),
        (
            "metadata_entries",
            o.limits.max_metadata_entries.to_string(),
        ),
        ("inflight_per_conn", o.max_inflight_per_conn.to_string()),
        ("connections", o.max_connections.to_string()),
        ("idle_timeout", duration(o.idle_timeout)),
        (
            "pending_bytes_per_conn",
            bytes(o.max_pending_bytes_per_conn),
        ),
        ("pending_bytes", bytes(o.max_pending_bytes)),
        ("heartbeat_payload", bytes(o.max_heartbeat_payload)),
    ];
    for (key, value) in want {
        assert_eq!(cell(&page, "Server", key, "Rust"), value, "Server `{key}`");
        // C, C++ and Python servers pass nothing for an unset option: the core's default.
        for binding in ["C", "C++", "Python"] {
            assert_eq!(
                cell(&page, "Server", key, binding),
                value,
                "Server `{key}` of {binding}"
            );
        }
    }
}

#[test]
fn xclient_defaults_match_the_page() {
    let page = page();
    let o = XClientOptions::default();
    let row = |name: &str| -> String {
        let line = page
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no XClient row {name:?}"));
        line.trim_matches('|')
            .split(" | ")
            .nth(1)
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(o.fail_mode, FailMode::Failover);
    assert_eq!(row("fail mode"), "Failover");
    assert_eq!(o.select_mode, SelectMode::RoundRobin);
    assert_eq!(row("select mode"), "RoundRobin");
    assert_eq!(row("retries"), o.retries.to_string());
    assert_eq!(
        row("backup latency (Failbackup)"),
        format!("{} ms", o.backup_latency.as_millis())
    );
    assert_eq!(
        row("broadcast / fork timeout"),
        duration(Some(o.broadcast_timeout))
    );
    assert!(o.health.is_some());
    assert!(row("dead-server detector").starts_with("on"));
}
