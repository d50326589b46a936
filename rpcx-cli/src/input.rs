//! Where the ARGS of `rpcx call` come from: the command line, standard input (`-`, `@-`) or
//! a file (`@FILE`), as bytes (binary-safe for `--codec raw`).

use std::io::Read;

use crate::failure::Failure;

/// The bytes of ARGS as given on the command line:
///
/// - `-` or `@-`: everything on standard input;
/// - `@FILE`: the contents of FILE;
/// - `@@…`: the text without its first `@` (a literal ARGS that starts with `@`);
/// - anything else: the text itself.
///
/// A file or standard input that cannot be read is bad input (exit 6), reported before
/// anything is sent.
pub(crate) fn read_args(arg: &str) -> Result<Vec<u8>, Failure> {
    if arg == "-" || arg == "@-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::Input(format!("ARGS from standard input: {e}")))?;
        return Ok(buf);
    }
    if let Some(literal) = arg.strip_prefix("@@") {
        let mut v = Vec::with_capacity(literal.len() + 1);
        v.push(b'@');
        v.extend_from_slice(literal.as_bytes());
        return Ok(v);
    }
    if let Some(path) = arg.strip_prefix('@') {
        if path.is_empty() {
            return Err(Failure::Input(
                "ARGS \"@\" names no file: give @FILE, - for standard input, or @@… for a \
                 literal leading @"
                    .into(),
            ));
        }
        return std::fs::read(path)
            .map_err(|e| Failure::Input(format!("ARGS from {path:?}: cannot read it: {e}")));
    }
    Ok(arg.as_bytes().to_vec())
}

/// Where ARGS came from, for error messages: `ARGS`, `ARGS from standard input`,
/// `ARGS from "file"`.
pub(crate) fn describe(arg: Option<&str>) -> String {
    match arg {
        Some("-") | Some("@-") => "ARGS from standard input".to_owned(),
        Some(a) if a.starts_with('@') && !a.starts_with("@@") => {
            format!("ARGS from {:?}", &a[1..])
        }
        _ => "ARGS".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_escaped_args() {
        assert_eq!(read_args("{\"A\":1}").unwrap(), b"{\"A\":1}");
        assert_eq!(read_args("@@home").unwrap(), b"@home");
        assert_eq!(read_args("@@").unwrap(), b"@");
        assert_eq!(read_args("x@y").unwrap(), b"x@y");
    }

    #[test]
    fn bad_files_are_bad_input() {
        let e = read_args("@").unwrap_err();
        assert!(matches!(e, Failure::Input(_)));
        let e = read_args("@/nonexistent/rpcx-cli-args.json").unwrap_err();
        match e {
            Failure::Input(m) => assert!(m.contains("rpcx-cli-args.json"), "{m}"),
            other => panic!("not bad input: {other:?}"),
        }
    }

    #[test]
    fn where_args_came_from() {
        assert_eq!(describe(Some("-")), "ARGS from standard input");
        assert_eq!(describe(Some("@a.json")), "ARGS from \"a.json\"");
        assert_eq!(describe(Some("@@a")), "ARGS");
        assert_eq!(describe(None), "ARGS");
    }
}
