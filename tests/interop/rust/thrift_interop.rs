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
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;
use rpcx::server::Server;
use rpcx::Error;
use serde::{Deserialize, Serialize};
use tokio::process::Command;

#[path = "go_peer.rs"]
mod go_peer;
use go_peer::GoServer;

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
    let server = GoServer::start(gothrift, LIMIT).await?;
    let addr = server.address.clone();
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
    server.stop(LIMIT).await;
    result
}

#[tokio::main]
async fn main() {
    go_peer::run_cases(
        "thrift",
        "thrift ",
        "thrift_interop [go-client|go-server] GOTHRIFT",
        |case, bin| async move {
            match case {
                "go-client" => go_client(&bin).await,
                _ => go_server(&bin).await,
            }
        },
    )
    .await;
}
