//! Registry metadata: a URL query string (`weight=10&group=a&group=b&state=inactive`), parsed
//! as Go's `url.ParseQuery` does (§4.6, §5.1).

use std::collections::BTreeMap;

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
                (Some(k), Some(v)) => values.entry(k).or_default().push(v),
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

/// Whether a server passes the list filters of §4.6: unparsable metadata is never filtered;
/// `state=inactive` is removed; with a group configured, only members of it stay.
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

fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(h).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn escape_into(s: &str, out: &mut String) {
    for &c in s.as_bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(c as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{c:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let m = ServerMeta::parse(
            "weight=10&group=a&group=b&state=active&name=x%20y+z&latitude=39.9&longitude=116.3",
        );
        assert!(m.is_valid());
        assert_eq!(m.weight(), 10);
        assert!(m.in_group("b"));
        assert!(!m.in_group("c"));
        assert!(m.is_active());
        assert_eq!(m.get("name"), Some("x y z"));
        assert_eq!(m.geo(), Some((39.9, 116.3)));
        assert_eq!(ServerMeta::parse("weight=abc").weight(), 1);
        assert_eq!(ServerMeta::parse("weight=-3").weight(), -3);
        assert!(!ServerMeta::parse("state=inactive").is_active());
        assert!(!ServerMeta::parse("a=%zz").is_valid());
        assert!(!ServerMeta::parse("a=1;b=2").is_valid());
        assert_eq!(ServerMeta::parse("b=2&a=x y").encode(), "a=x+y&b=2");
        assert_eq!(ServerMeta::parse("").weight(), 1);
    }

    #[test]
    fn filters() {
        assert!(!passes_filter(&ServerMeta::parse("state=inactive"), None));
        assert!(passes_filter(&ServerMeta::parse("state=inactive;x"), None));
        assert!(passes_filter(&ServerMeta::parse("group=a"), None));
        assert!(!passes_filter(&ServerMeta::parse("group=a"), Some("b")));
        assert!(passes_filter(
            &ServerMeta::parse("group=a&group=b"),
            Some("b")
        ));
        assert!(!passes_filter(&ServerMeta::parse(""), Some("b")));
    }
}
