//! Registry metadata: a URL query string (`weight=10&group=a&group=b&state=inactive`), parsed
//! as Go's `url.ParseQuery` does.

use std::collections::BTreeMap;

use crate::protocol::query::{escape_into, unescape};

/// Parsed server metadata. When the string does not parse (a bad `%` escape or a `;`), Go
/// applies no filtering and uses defaults; so does this (`valid` is false, no values).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerMeta {
    values: BTreeMap<String, Vec<String>>,
    valid: bool,
}

impl ServerMeta {
    /// Parses a query string.
    pub fn parse(query: &str) -> ServerMeta {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for part in query.split('&') {
            if part.is_empty() {
                continue;
            }
            if part.contains(';') {
                return ServerMeta::default();
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match (unescape(k), unescape(v)) {
                (Ok(k), Ok(v)) => values.entry(k).or_default().push(v),
                _ => return ServerMeta::default(),
            }
        }
        ServerMeta {
            values,
            valid: true,
        }
    }

    /// True when the string parsed.
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key)?.first().map(String::as_str)
    }

    /// Every value of `key`.
    pub fn get_all(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }

    /// `weight`, as Go's `strconv.Atoi` reads it; 1 when missing or invalid. Zero and
    /// negative weights are kept (selectors treat them as "never pick" without panicking).
    pub fn weight(&self) -> i64 {
        self.get("weight")
            .and_then(|w| w.parse::<i64>().ok())
            .unwrap_or(1)
    }

    /// False when `state=inactive`.
    pub fn is_active(&self) -> bool {
        self.get("state") != Some("inactive")
    }

    /// True when one of the `group` values equals `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.get_all("group").iter().any(|g| g == group)
    }

    /// `(latitude, longitude)` when both parse as floats.
    pub fn geo(&self) -> Option<(f64, f64)> {
        let lat = self.get("latitude")?.trim().parse::<f64>().ok()?;
        let lon = self.get("longitude")?.trim().parse::<f64>().ok()?;
        (lat.is_finite() && lon.is_finite()).then_some((lat, lon))
    }

    /// Re-encodes like Go's `url.Values.Encode` (keys sorted, values escaped).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (k, vs) in &self.values {
            for v in vs {
                if !out.is_empty() {
                    out.push('&');
                }
                escape_into(k, &mut out);
                out.push('=');
                escape_into(v, &mut out);
            }
        }
        out
    }
}

/// Whether a server passes the list filters (Go's `filterByStateAndGroup` in
/// `client/xclient.go`): unparsable metadata is never filtered; `state=inactive` is removed;
/// with a group configured, only members of it stay.
pub fn passes_filter(meta: &ServerMeta, group: Option<&str>) -> bool {
    if !meta.is_valid() {
        return true;
    }
    if !meta.is_active() {
        return false;
    }
    match group {
        Some(g) if !g.is_empty() => meta.in_group(g),
        _ => true,
    }
}
