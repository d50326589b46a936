//! The Rust client side of the file transfer and stream interop check
//! (tests/interop/run_files.sh), against Go rpcx's FileTransfer and StreamService.
//!
//! ```text
//! files_interop upload   --addr tcp@HOST:PORT --file PATH [--json]
//! files_interop download --addr tcp@HOST:PORT --file NAME --out PATH [--json]   # prints SHA256 <hex>
//! files_interop stream   --addr tcp@HOST:PORT [--n 10000] [--json]             # prints ECHOED <n>
//! ```
//! Exit status 1 with the error on stderr when anything fails.

use std::collections::HashMap;
use std::time::Duration;

use rpcx::client::ClientOptions;
use rpcx::protocol::SerializeType;
use rpcx::transfer::{FILE_TRANSFER_SERVICE, STREAM_SERVICE};
use rpcx::xclient::{MultipleServers, XClient, XClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

struct Args {
    mode: String,
    addr: String,
    file: String,
    out: String,
    n: u32,
    json: bool,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        mode: it.next().ok_or("mode: upload, download or stream")?,
        addr: String::new(),
        file: String::new(),
        out: String::new(),
        n: 10_000,
        json: false,
    };
    while let Some(f) = it.next() {
        match f.as_str() {
            "--addr" => a.addr = it.next().ok_or("--addr needs a value")?,
            "--file" => a.file = it.next().ok_or("--file needs a value")?,
            "--out" => a.out = it.next().ok_or("--out needs a value")?,
            "--n" => {
                a.n = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--n needs a number")?
            }
            "--json" => a.json = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

async fn run(a: Args) -> Result<(), String> {
    let st = if a.json {
        SerializeType::JSON
    } else {
        SerializeType::MSGPACK
    };
    let service = if a.mode == "stream" {
        STREAM_SERVICE
    } else {
        FILE_TRANSFER_SERVICE
    };
    let options = XClientOptions {
        client: ClientOptions::default()
            .serialize_type(st)
            .timeout(Duration::from_secs(60)),
        ..Default::default()
    };
    let xc = XClient::new(
        service,
        MultipleServers::from_addresses([a.addr.clone()]),
        options,
    )
    .map_err(|e| e.to_string())?;
    let mut meta = HashMap::new();
    meta.insert("from".to_string(), "rust".to_string());
    match a.mode.as_str() {
        "upload" => {
            let n = xc
                .send_file(&a.file, 0, meta)
                .await
                .map_err(|e| e.to_string())?;
            println!("SENT {n}");
        }
        "download" => {
            let mut f = tokio::fs::File::create(&a.out)
                .await
                .map_err(|e| e.to_string())?;
            let n = xc
                .download_file(&a.file, &mut f, meta)
                .await
                .map_err(|e| e.to_string())?;
            drop(f);
            let bytes = std::fs::read(&a.out).map_err(|e| e.to_string())?;
            if bytes.len() as u64 != n {
                return Err(format!("wrote {n} bytes, file has {}", bytes.len()));
            }
            println!("RECEIVED {n}");
        }
        "stream" => {
            let conn = xc.stream(meta).await.map_err(|e| e.to_string())?;
            let (mut r, w) = conn.into_split();
            let n = a.n;
            let writer = tokio::spawn(async move {
                let mut w = BufWriter::new(w);
                for i in 0..n {
                    let msg = format!("message {i:05}");
                    w.write_all(&(msg.len() as u32).to_be_bytes()).await?;
                    w.write_all(msg.as_bytes()).await?;
                }
                w.flush().await
            });
            for i in 0..n {
                let mut len = [0u8; 4];
                r.read_exact(&mut len)
                    .await
                    .map_err(|e| format!("message {i}: {e}"))?;
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                r.read_exact(&mut body)
                    .await
                    .map_err(|e| format!("message {i}: {e}"))?;
                if body != format!("message {i:05}").as_bytes() {
                    return Err(format!(
                        "message {i}: got {:?}",
                        String::from_utf8_lossy(&body)
                    ));
                }
            }
            writer
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            println!("ECHOED {n}");
        }
        other => return Err(format!("unknown mode {other:?}")),
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("files_interop: {e}");
            std::process::exit(2);
        }
    };
    match tokio::time::timeout(Duration::from_secs(120), run(args)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("files_interop: {e}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("files_interop: timed out after 120 s");
            std::process::exit(1);
        }
    }
}
