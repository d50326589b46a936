//! URL query strings as Go's `net/url` reads and writes them: registry metadata
//! (`weight=10&group=a`) and the HTTP gateway's `X-RPCX-Meta` header.

/// Parses `s` as Go's `url.ParseQuery`: pairs split at `&`, `+` is a space, `%XX` escapes;
/// a `;` or a bad escape is an error with Go's text (`invalid semicolon separator in query`,
/// `invalid URL escape "%zz"`). Pairs keep their order; a key may repeat. Like Go, the pairs
/// that parsed come back with the first error.
pub(crate) fn parse_query_lenient(s: &str) -> (Vec<(String, String)>, Option<String>) {
    let mut pairs = Vec::new();
    let mut first_error = None;
    for part in s.split('&') {
        if part.is_empty() {
            continue;
        }
        if part.contains(';') {
            first_error.get_or_insert_with(|| "invalid semicolon separator in query".to_owned());
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match (unescape(k), unescape(v)) {
            (Ok(k), Ok(v)) => pairs.push((k, v)),
            (Err(e), _) | (_, Err(e)) => {
                first_error.get_or_insert(e);
            }
        }
    }
    (pairs, first_error)
}

/// [`parse_query_lenient`], failing on the first error.
pub(crate) fn parse_query(s: &str) -> Result<Vec<(String, String)>, String> {
    match parse_query_lenient(s) {
        (_, Some(e)) => Err(e),
        (pairs, None) => Ok(pairs),
    }
}

/// Undoes query escaping (`+` → space, `%XX`); bytes that are not UTF-8 become U+FFFD.
pub(crate) fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                match (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => {
                        let bad: String = s[i..].chars().take(3).collect();
                        return Err(format!("invalid URL escape {bad:?}"));
                    }
                }
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Appends `s` escaped as Go's `url.QueryEscape` does (`-_.~` and alphanumerics kept, space as
/// `+`, everything else `%XX`).
pub(crate) fn escape_into(s: &str, out: &mut String) {
    for &c in s.as_bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(c as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(c >> 4)] as char);
                out.push(HEX[usize::from(c & 15)] as char);
            }
        }
    }
}

/// Encodes pairs as Go's `url.Values.Encode`: sorted by key (pairs of one key keep their
/// order), `k=v` joined by `&`.
pub(crate) fn encode_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        escape_into(k, &mut out);
        out.push('=');
        escape_into(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_go() {
        assert_eq!(
            parse_query("a=1&b=x+y%21&&c").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new())
            ]
        );
        assert_eq!(
            parse_query("a=%zz").unwrap_err(),
            "invalid URL escape \"%zz\""
        );
        assert_eq!(
            parse_query("a=%4").unwrap_err(),
            "invalid URL escape \"%4\""
        );
        assert_eq!(
            parse_query("a=%+1").unwrap_err(),
            "invalid URL escape \"%+1\""
        );
        assert_eq!(
            parse_query("a=1;b=2").unwrap_err(),
            "invalid semicolon separator in query"
        );
        assert_eq!(
            encode_query([("z", "a b*~"), ("a", "é")]),
            "a=%C3%A9&z=a+b%2A~"
        );
    }
}
