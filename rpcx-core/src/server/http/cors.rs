//! Cross-origin resource sharing for the gateway and JSON-RPC, with the semantics of the
//! `rs/cors` middleware Go rpcx's `SetCORS` installs.

use hyper::header::{HeaderMap, HeaderValue};
use hyper::Method;

/// CORS settings (Go's `server.CORSOptions`, which is `rs/cors`'s `Options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOptions {
    /// Origins allowed; `*` anywhere allows all, and one `*` inside an entry is a wildcard
    /// (`https://*.example.com`). Empty allows all, as in `rs/cors`. Compared
    /// case-insensitively.
    pub allowed_origins: Vec<String>,
    /// Methods a cross-origin request may use (compared in capitals); empty means GET, POST
    /// and HEAD.
    pub allowed_methods: Vec<String>,
    /// Request headers a cross-origin request may carry; `*` allows any; empty means
    /// Accept, Content-Type and X-Requested-With.
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read (`Access-Control-Expose-Headers`).
    pub exposed_headers: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` of preflight answers, in seconds; 0 sends none.
    pub max_age_secs: u32,
}

impl CorsOptions {
    /// Every origin, the methods HEAD, GET, POST, PUT, PATCH and DELETE, any header, no
    /// credentials: Go's `server.AllowAllCORSOptions()`.
    pub fn allow_all() -> CorsOptions {
        CorsOptions {
            allowed_origins: vec!["*".into()],
            allowed_methods: ["HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            allowed_headers: vec!["*".into()],
            ..CorsOptions::default()
        }
    }

    fn origins_all(&self) -> bool {
        self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o == "*")
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.origins_all() {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.allowed_origins.iter().any(|o| {
            let o = o.to_ascii_lowercase();
            match o.split_once('*') {
                None => o == origin,
                Some((pre, post)) => {
                    origin.len() >= pre.len() + post.len()
                        && origin.starts_with(pre)
                        && origin.ends_with(post)
                }
            }
        })
    }

    fn method_allowed(&self, method: &str) -> bool {
        if method == "OPTIONS" {
            return true;
        }
        if self.allowed_methods.is_empty() {
            return ["GET", "POST", "HEAD"].contains(&method);
        }
        // Configured names are compared in capitals (`post` allows POST; rs/cors would
        // never match it), request methods as sent.
        self.allowed_methods.iter().any(|m| {
            m.eq_ignore_ascii_case(method) && method.bytes().all(|b| !b.is_ascii_lowercase())
        })
    }

    fn headers_allowed(&self, requested: &str) -> bool {
        if self.allowed_headers.iter().any(|h| h == "*") {
            return true;
        }
        let defaults = ["accept", "content-type", "x-requested-with"];
        requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .all(|h| {
                if self.allowed_headers.is_empty() {
                    defaults.contains(&h.as_str())
                } else {
                    self.allowed_headers
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(&h))
                }
            })
    }

    fn allow_origin(&self, origin: &str) -> Option<HeaderValue> {
        if self.origins_all() {
            Some(HeaderValue::from_static("*"))
        } else {
            HeaderValue::from_str(origin).ok()
        }
    }

    /// True for a preflight request (OPTIONS with `Access-Control-Request-Method`), which
    /// [`preflight`](Self::preflight) answers alone.
    pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key("access-control-request-method")
    }

    /// The headers of the answer to a preflight request (sent with status 204).
    pub(crate) fn preflight(&self, req: &HeaderMap, out: &mut HeaderMap) {
        out.append(
            "vary",
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        let origin = text(req, "origin");
        if origin.is_empty() || !self.origin_allowed(origin) {
            return;
        }
        let method = text(req, "access-control-request-method");
        if !self.method_allowed(method) {
            return;
        }
        let req_headers = req.get("access-control-request-headers");
        if let Some(h) = req_headers {
            if !self.headers_allowed(h.to_str().unwrap_or("\u{0}")) {
                return;
            }
        }
        if let Some(v) = self.allow_origin(origin) {
            out.insert("access-control-allow-origin", v);
        }
        if let Ok(v) = HeaderValue::from_str(method) {
            out.insert("access-control-allow-methods", v);
        }
        if let Some(h) = req_headers.filter(|h| !h.is_empty()) {
            out.insert("access-control-allow-headers", h.clone());
        }
        self.credentials(out);
        if self.max_age_secs > 0 {
            out.insert("access-control-max-age", self.max_age_secs.into());
        }
    }

    /// The headers added to the answer of an actual (non-preflight) request.
    pub(crate) fn actual(&self, method: &Method, req: &HeaderMap, out: &mut HeaderMap) {
        out.append("vary", HeaderValue::from_static("Origin"));
        let origin = text(req, "origin");
        if origin.is_empty()
            || !self.origin_allowed(origin)
            || !self.method_allowed(method.as_str())
        {
            return;
        }
        if let Some(v) = self.allow_origin(origin) {
            out.insert("access-control-allow-origin", v);
        }
        if !self.exposed_headers.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&self.exposed_headers.join(", ")) {
                out.insert("access-control-expose-headers", v);
            }
        }
        self.credentials(out);
    }

    fn credentials(&self, out: &mut HeaderMap) {
        if self.allow_credentials {
            out.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// A header's text, `""` when absent or not text.
pub(crate) fn text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn preflight_and_actual_follow_rs_cors() {
        let cors = CorsOptions {
            allowed_origins: vec!["https://*.example.com".into()],
            allow_credentials: true,
            max_age_secs: 60,
            ..CorsOptions::default()
        };
        let req = headers(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ]);
        let mut out = HeaderMap::new();
        cors.preflight(&req, &mut out);
        assert_eq!(
            out["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(out["access-control-allow-methods"], "POST");
        assert_eq!(out["access-control-allow-headers"], "content-type");
        assert_eq!(out["access-control-allow-credentials"], "true");
        assert_eq!(out["access-control-max-age"], "60");

        let mut out = HeaderMap::new();
        let other = headers(&[("origin", "https://evil.test")]);
        cors.actual(&Method::POST, &other, &mut out);
        assert_eq!(out.len(), 1, "only Vary for an origin not allowed: {out:?}");

        let mut out = HeaderMap::new();
        CorsOptions::allow_all().actual(&Method::PUT, &other, &mut out);
        assert_eq!(out["access-control-allow-origin"], "*");
    }
}
