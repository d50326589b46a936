//! Why the CLI failed ([`Failure`]) and the exit status that says so.

use std::process::ExitCode;

/// Why the CLI failed; [`Failure::code`] is its exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 1: anything else (a reply that cannot be decoded, a local file error).
    Other(String),
    /// 2: the command line itself (missing or extra arguments).
    Usage(String),
    /// 3: the server could not be reached, or no server was found.
    Unreachable(String),
    /// 4: the call timed out.
    Timeout(String),
    /// 5: the server answered with an error (the text is the server's).
    Server(String),
    /// 6: bad local input: arguments, metadata, an address, a timeout, flags that clash.
    Input(String),
}

impl Failure {
    pub(crate) fn code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
            Failure::Timeout(_) => 4,
            Failure::Server(_) => 5,
            Failure::Input(_) => 6,
        }
    }

    /// Prints `error: …` to stderr and returns the exit status.
    pub(crate) fn exit(self) -> ExitCode {
        let code = self.code();
        match self {
            Failure::Server(m) => eprintln!("error: server error: {m}"),
            Failure::Usage(m) => eprintln!(
                "error: {m}

For more information, try '--help'."
            ),
            Failure::Other(m)
            | Failure::Unreachable(m)
            | Failure::Timeout(m)
            | Failure::Input(m) => eprintln!("error: {m}"),
        }
        ExitCode::from(code)
    }

    /// An error of the rpcx library, by kind.
    pub(crate) fn rpc(e: rpcx::Error) -> Failure {
        use rpcx::Error as E;
        match e {
            E::Server(s) => Failure::Server(s.message),
            E::Timeout(_) => Failure::Timeout(e.to_string()),
            E::Connect { .. }
            | E::ConnectionLost(_)
            | E::Closed
            | E::Io(_)
            | E::NoServer
            | E::BreakerOpen(_) => Failure::Unreachable(e.to_string()),
            E::Address(_) | E::Config(_) => Failure::Input(e.to_string()),
            _ => Failure::Other(e.to_string()),
        }
    }
}

/// Local validation messages are bad input (6).
impl From<String> for Failure {
    fn from(m: String) -> Failure {
        Failure::Input(m)
    }
}

impl From<&str> for Failure {
    fn from(m: &str) -> Failure {
        Failure::Input(m.to_owned())
    }
}
