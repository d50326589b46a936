//! Logs: the structured events rpcx emits, and a [`Forwarder`] that hands them to a plain
//! callback (the C ABI and the Python module route them with it).
//!
//! rpcx emits [`tracing`] events; any `tracing` subscriber the application installs receives
//! them (targets are module paths under `rpcx::`, messages start with `rpcx: `, details are
//! fields). With no subscriber an event costs a relaxed atomic load. What is logged:
//!
//! | level | events |
//! |-------|--------|
//! | error | a handler panicked (service, method, panic message) |
//! | warn  | a connection refused (a connection plugin, TLS handshake failure, neither rpcx nor HTTP); a malformed frame (bad magic, a length that lies: the connection is closed); a request over a limit (frame length, decompressed size, metadata entries or bytes); an authentication failure (service, method: never the token); a request or read refused by a plugin; the connection limit reached; a registry or discovery that fails (once per outage); a client connection lost with an error; an XClient server out of rotation |
//! | info  | a registry, discovery or XClient server that works again |
//! | debug | connection accepted and closed (with the reason: peer closed, idle timeout…); reading paused by the in-flight limit or the memory budget; a rate-limited request; a client connect failure or a connection the server closed; a retried etcd request |
//!
//! Nothing is logged per successful call at any level (the cargo feature `tracing` adds a
//! span per served call, which is not an event). Every event carries the peer where there is
//! one.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// A log level, most severe first; [`LogLevel::Off`] logs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Nothing.
    Off = 0,
    /// Errors: a handler panicked.
    Error = 1,
    /// Warnings: refused connections, malformed frames, limits, auth failures, outages.
    Warn = 2,
    /// Recoveries (a registry reachable again).
    Info = 3,
    /// Connection life cycle and backpressure.
    Debug = 4,
    /// Everything, including the dependencies' trace events.
    Trace = 5,
}

impl LogLevel {
    /// The level of a `tracing` level.
    pub fn of(level: &tracing::Level) -> LogLevel {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }

    /// The level of its number (0 = off … 5 = trace); `None` past 5.
    pub fn from_u8(n: u8) -> Option<LogLevel> {
        Some(match n {
            0 => LogLevel::Off,
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            5 => LogLevel::Trace,
            _ => return None,
        })
    }

    /// Parses `off`, `error`, `warn` (or `warning`), `info`, `debug` or `trace`, in any case
    /// and with surrounding blanks; `None` for anything else.
    pub fn parse(text: &str) -> Option<LogLevel> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }

    /// The level's name in capitals (`"WARN"`), `"OFF"` for [`LogLevel::Off`].
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "OFF",
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        }
    }

    fn filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

/// One event as a [`Forwarder`] hands it over: valid only during the sink's call.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// The event's level (never [`LogLevel::Off`]).
    pub level: LogLevel,
    /// Where it comes from: a module path such as `rpcx::server::conn`.
    pub target: &'a str,
    /// The text, then the fields as ` key=value` (strings with blanks or quotes quoted).
    pub message: &'a str,
    /// The text alone (`message` without the fields).
    pub text: &'a str,
    /// The fields, in order: name and value (as formatted in `message`, unquoted).
    pub fields: &'a [(&'static str, String)],
}

/// What a [`Forwarder`] calls for every event at or above its level.
pub type LogSink = dyn Fn(&LogRecord<'_>) + Send + Sync;

struct Inner {
    level: AtomicU8,
    sink: Box<LogSink>,
    next_span: AtomicU64,
}

/// A `tracing` [`Subscriber`] that formats each event (the text, then its fields as
/// `key=value`) and passes it to a sink, with a level that can change at any time (one atomic;
/// events below it cost nothing more than a disabled `tracing` callsite). Spans are not
/// forwarded. Events emitted by the sink itself, on the thread that runs it, are dropped
/// rather than recursing.
///
/// Install it with [`tracing::subscriber::set_global_default`] (clones share the level).
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

impl fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("level", &self.level())
            .finish()
    }
}

thread_local! {
    static IN_SINK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Forwarder {
    /// A forwarder of the events at or above `level` to `sink`.
    pub fn new(level: LogLevel, sink: impl Fn(&LogRecord<'_>) + Send + Sync + 'static) -> Self {
        Forwarder {
            inner: Arc::new(Inner {
                level: AtomicU8::new(level as u8),
                sink: Box::new(sink),
                next_span: AtomicU64::new(1),
            }),
        }
    }

    /// The level in force.
    pub fn level(&self) -> LogLevel {
        LogLevel::from_u8(self.inner.level.load(Ordering::Relaxed)).unwrap_or(LogLevel::Off)
    }

    /// Changes the level; takes effect for every later event, on every thread.
    pub fn set_level(&self, level: LogLevel) {
        if self.inner.level.swap(level as u8, Ordering::Relaxed) != level as u8 {
            // Callsites cached their interest under the old level: ask again.
            tracing::callsite::rebuild_interest_cache();
        }
    }

    /// Installs a clone of this forwarder as the process's global `tracing` subscriber (of
    /// this copy of `tracing`); `false`, and nothing changed, when a global subscriber was
    /// already set.
    pub fn install_global(&self) -> bool {
        tracing::subscriber::set_global_default(self.clone()).is_ok()
    }

    fn wants(&self, meta: &Metadata<'_>) -> bool {
        meta.is_event() && LogLevel::of(meta.level()) <= self.level()
    }
}

/// Formats an event's fields: the `message` first, then ` key=value` for the others.
pub fn format_event(event: &Event<'_>) -> String {
    let mut v = Fields::default();
    event.record(&mut v);
    v.line()
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    list: Vec<(&'static str, String)>,
}

impl Fields {
    fn line(&self) -> String {
        if self.message.is_empty() {
            self.rest.trim_start().to_owned()
        } else {
            format!("{}{}", self.message, self.rest)
        }
    }

    fn push(&mut self, field: &Field, text: &str) {
        if field.name() == "message" {
            self.message.push_str(text);
            return;
        }
        self.list.push((field.name(), text.to_owned()));
        let quote = text.is_empty()
            || text
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
        if quote {
            let _ = write!(self.rest, " {}={:?}", field.name(), text);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), text);
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        self.push(field, &text);
    }
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.level().filter())
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.wants(meta)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        // Spans are never enabled (see `wants`); an id is still owed if one is forced.
        Id::from_u64(self.inner.next_span.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if !self.wants(meta) || IN_SINK.with(|f| f.get()) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.line();
        let record = LogRecord {
            level: LogLevel::of(meta.level()),
            target: meta.target(),
            message: &message,
            text: &fields.message,
            fields: &fields.list,
        };
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_SINK.with(|f| f.set(false));
            }
        }
        IN_SINK.with(|f| f.set(true));
        let _reset = Reset;
        (self.inner.sink)(&record);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// `2026-12-02T19:48:40.123Z` for a time since the Unix epoch (UTC, milliseconds).
pub fn utc_timestamp(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// One line for a record as the bindings' default stderr logger writes it:
/// `<UTC time> <LEVEL> <target>: <message>`.
pub fn stderr_line(record: &LogRecord<'_>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{} {:5} {}: {}",
        utc_timestamp(now),
        record.level.name(),
        record.target,
        record.message
    )
}

/// The level the `RPCX_LOG` environment variable asks for (`off|error|warn|info|debug|trace`),
/// `None` when unset or not one of those.
pub fn env_level() -> Option<LogLevel> {
    std::env::var("RPCX_LOG")
        .ok()
        .and_then(|v| LogLevel::parse(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn timestamps() {
        use std::time::Duration;
        assert_eq!(utc_timestamp(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            utc_timestamp(Duration::from_millis(1_709_210_096_789)),
            "2024-02-29T12:34:56.789Z"
        );
        assert_eq!(
            utc_timestamp(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn levels_parse() {
        assert_eq!(LogLevel::parse(" Warning "), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("OFF"), Some(LogLevel::Off));
        assert_eq!(LogLevel::parse("loud"), None);
        assert!(LogLevel::Error < LogLevel::Debug);
    }

    #[test]
    fn forwards_formatted_events_above_the_level() {
        type Got = (
            LogLevel,
            String,
            String,
            String,
            Vec<(&'static str, String)>,
        );
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let g = Arc::clone(&got);
        let fwd = Forwarder::new(LogLevel::Warn, move |r| {
            g.lock().unwrap().push((
                r.level,
                r.target.to_owned(),
                r.message.to_owned(),
                r.text.to_owned(),
                r.fields.to_vec(),
            ));
            // Re-entry from the sink is dropped, not recursed into.
            tracing::warn!("rpcx: from inside the sink");
        });
        tracing::subscriber::with_default(fwd.clone(), || {
            tracing::debug!(peer = "1.2.3.4:5", "rpcx: quiet");
            tracing::warn!(peer = %"1.2.3.4:5", reason = "too many", n = 3, "rpcx: loud");
            fwd.set_level(LogLevel::Debug);
            tracing::debug!(empty = "", "rpcx: now heard");
            fwd.set_level(LogLevel::Off);
            tracing::error!("rpcx: silenced");
        });
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, LogLevel::Warn);
        assert_eq!(got[0].1, "rpcx::logs::tests");
        assert_eq!(
            got[0].2,
            "rpcx: loud peer=1.2.3.4:5 reason=\"too many\" n=3"
        );
        assert_eq!(got[0].3, "rpcx: loud");
        assert_eq!(
            got[0].4,
            [
                ("peer", "1.2.3.4:5".to_owned()),
                ("reason", "too many".to_owned()),
                ("n", "3".to_owned())
            ]
        );
        assert_eq!(got[1].2, "rpcx: now heard empty=\"\"");
    }
}
