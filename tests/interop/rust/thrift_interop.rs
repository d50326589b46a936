//! `thrift_interop`: the Rust side of the Thrift interop check with Go
//! (tests/interop/run_thrift.sh): serialize type 4 between our serde-based Thrift codec and Go's
//! `codec.ThriftCodec` (Apache Thrift's TBinaryProtocol over hand-written TStructs in
//! `tests/interop/go/cmd/gothrift`).
//!
//! ```text
//! thrift_interop [go-client|go-server] GOTHRIFT
//! ```
//!
//! Prints `PASS <case>` or `FAIL <case>: <reason>`, then `thrift: N passed, N failed`; exit
//! status 1 if a case failed, 2 on usage errors.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;
use rpcx::server::Server;
use rpcx::Error;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(20);

/// Thrift `Profile {1: string Name, 2: list<i32> Scores, 3: map<string, i64> Tags,
/// 4: optional string Nick, 5: Args Pair, 6: i32 Count}`: field ids are the positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    scores: Vec<i32>,
    tags: BTreeMap<String, i64>,
    nick: Option<String>,
    pair: Args,
    count: i32,
}

rpcx::serde_codable!(Profile);

fn check(what: &str, ok: bool, detail: impl std::fmt::Debug) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: {detail:?}"))
    }
}

/// A Go client calls our Arith with Thrift: Mul answers, Div by zero is an error with our text.
async fn go_client(gothrift: &str) -> Result<(), String> {
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server).map_err(|e| e.to_string())?;
    let handle = server
        .serve("tcp@127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let out = tokio::time::timeout(
        LIMIT,
        Command::new(gothrift)
            .args([
                "-mode",
                "client",
                "-addr",
                &handle.local_address().to_string(),
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| "the Go client did not finish in time".to_owned())?
    .map_err(|e| format!("running {gothrift}: {e}"))?;
    handle.shutdown(LIMIT).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(
        "the Go client succeeded",
        out.status.success(),
        (&stdout, String::from_utf8_lossy(&out.stderr)),
    )?;
    check("Mul over Thrift", stdout.contains("REPLY 56"), &stdout)?;
    check(
        "Div by zero's error text",
        stdout.contains(&format!("ERROR {}", rpcx::arith::DIVIDE_BY_ZERO)),
        &stdout,
    )?;
    println!("  {}", stdout.trim().replace('\n', "; "));
    Ok(())
}

/// Our client calls a Go server with Thrift: Mul, a Profile of every kind of field echoed,
/// and a server error's text.
async fn go_server(gothrift: &str) -> Result<(), String> {
    let mut child = Command::new(gothrift)
        .args(["-mode", "server", "-addr", "tcp@127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("running {gothrift}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout of the Go server")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(LIMIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(a) = line.strip_prefix("LISTENING ") {
                return Some(a.to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("the Go server did not report LISTENING")?;
    let result = async {
        let options = ClientOptions::default().serialize_type(SerializeType::THRIFT);
        let client = Client::connect(&addr, options)
            .await
            .map_err(|e| e.to_string())?;
        let r: Reply = client
            .call("ThriftArith", "Mul", &Args { a: 7, b: 8 })
            .await
            .map_err(|e| e.to_string())?;
        check("Mul over Thrift", r.c == 56, r.c)?;
        let sent = Profile {
            name: "Ada ✓".into(),
            scores: vec![3, -1, 4],
            tags: [("x".to_owned(), 1i64 << 40), ("y".to_owned(), -2)].into(),
            nick: Some("ada".into()),
            pair: Args { a: 5, b: 6 },
            count: 0,
        };
        let got: Profile = client
            .call("ThriftArith", "Profile", &sent)
            .await
            .map_err(|e| e.to_string())?;
        let want = Profile {
            count: 3,
            ..sent.clone()
        };
        check("Profile echoed", got == want, (&got, &want))?;
        let no_nick = Profile { nick: None, ..sent };
        let got: Profile = client
            .call("ThriftArith", "Profile", &no_nick)
            .await
            .map_err(|e| e.to_string())?;
        check(
            "an absent optional field stays absent",
            got.nick.is_none(),
            &got,
        )?;
        match client
            .call::<_, Reply>("ThriftArith", "Error", &Args { a: 1, b: 2 })
            .await
        {
            Err(Error::Server(e)) => {
                check("error text", e.message == "thrift says no", &e.message)?
            }
            other => return Err(format!("ThriftArith.Error: {other:?}")),
        }
        println!("  Mul 56, Profile echoed with Count 3, error text kept");
        Ok::<_, String>(())
    }
    .await;
    let _ = child.start_kill();
    let _ = tokio::time::timeout(LIMIT, child.wait()).await;
    result
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cases, bin): (Vec<&str>, &str) = match args.as_slice() {
        [mode, bin] if mode == "go-client" || mode == "go-server" => (vec![mode.as_str()], bin),
        [bin] => (vec!["go-client", "go-server"], bin),
        _ => {
            eprintln!("usage: thrift_interop [go-client|go-server] GOTHRIFT");
            std::process::exit(2);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for case in cases {
        let r = match case {
            "go-client" => go_client(bin).await,
            _ => go_server(bin).await,
        };
        match r {
            Ok(()) => {
                passed += 1;
                println!("PASS thrift {case}");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL thrift {case}: {e}");
            }
        }
    }
    println!("thrift: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
