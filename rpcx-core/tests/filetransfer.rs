//! File transfer (`_filetransfer`): round trips through the side listener, a 64 MiB upload and
//! download with hash checks, and the bad input the side listener and the service refuse:
//! unknown, expired and reused tokens, stalled side connections, path traversal, files over
//! the limit, uploads longer or shorter than declared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;
use rpcx::server::{Server, ServerHandle};
use rpcx::transfer::{
    DownloadFileArgs, FileTransfer, FileTransferArgs, FileTransferOptions, FileTransferReply,
    SideHandle, SideOptions, FILE_TRANSFER_SERVICE,
};
use rpcx::xclient::{MultipleServers, XClient, XClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every wait in these tests is bounded by this.
const BOUND: Duration = Duration::from_secs(60);

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rpcx-ft-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Env {
    server: ServerHandle,
    side: SideHandle,
    uploads: TempDir,
    downloads: TempDir,
    outside: TempDir,
}

async fn start(options: FileTransferOptions) -> Env {
    let uploads = TempDir::new("up");
    let downloads = TempDir::new("down");
    let outside = TempDir::new("outside");
    let mut s = Server::builder().build();
    let side = FileTransfer::new(options)
        .upload_dir(uploads.path())
        .download_dir(downloads.path())
        .register(&mut s)
        .await
        .unwrap();
    let server = s.serve("tcp@127.0.0.1:0").await.unwrap();
    Env {
        server,
        side,
        uploads,
        downloads,
        outside,
    }
}

fn xclient(env: &Env, st: SerializeType) -> XClient {
    let options = XClientOptions {
        client: ClientOptions::default().serialize_type(st),
        ..Default::default()
    };
    XClient::new(
        FILE_TRANSFER_SERVICE,
        MultipleServers::from_addresses([env.server.local_address().to_string()]),
        options,
    )
    .unwrap()
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

fn sha1(b: &[u8]) -> String {
    sha1_smol::Sha1::from(b).digest().to_string()
}

/// Reads until the server closes the connection: the byte count, or the error (a reset).
async fn until_closed(conn: &mut TcpStream) -> Result<usize, std::io::Error> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match tokio::time::timeout(BOUND, conn.read(&mut buf)).await {
            Err(_) => panic!("the server did not close the side connection"),
            Ok(Ok(0)) => return Ok(total),
            Ok(Ok(n)) => total += n,
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// The files in `dir` (temporary upload files included).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Waits (bounded) until `dir` holds exactly `want`.
async fn wait_listing(dir: &Path, want: &[&str]) {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let got = listing(dir);
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} holds {got:?}, expected {want:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn token_for_upload(client: &Client, name: &str, size: i64) -> FileTransferReply {
    let args = FileTransferArgs {
        file_name: name.into(),
        file_size: size,
        meta: HashMap::new(),
    };
    client
        .call(FILE_TRANSFER_SERVICE, "TransferFile", &args)
        .await
        .unwrap()
}

async fn token_for_download(client: &Client, name: &str) -> FileTransferReply {
    let args = DownloadFileArgs {
        file_name: name.into(),
        meta: HashMap::new(),
    };
    client
        .call(FILE_TRANSFER_SERVICE, "DownloadFile", &args)
        .await
        .unwrap()
}

async fn side_conn(reply: &FileTransferReply) -> TcpStream {
    let mut c = TcpStream::connect(&reply.addr).await.unwrap();
    c.write_all(&reply.token).await.unwrap();
    c
}

#[tokio::test]
async fn upload_and_download_64_mib_hash_checked() {
    let env = start(FileTransferOptions::default()).await;
    let src = TempDir::new("src");
    let body = data(64 << 20, 1);
    let want = sha1(&body);
    let local = src.path().join("big.bin");
    std::fs::write(&local, &body).unwrap();
    drop(body);
    let xc = xclient(&env, SerializeType::MSGPACK);
    let work = async {
        let mut meta = HashMap::new();
        meta.insert("k".to_string(), "v".to_string());
        let sent = xc.send_file(&local, 0, meta).await.unwrap();
        assert_eq!(sent, 64 << 20);
        wait_listing(env.uploads.path(), &["big.bin"]).await;
        let saved = std::fs::read(env.uploads.path().join("big.bin")).unwrap();
        assert_eq!(sha1(&saved), want);

        std::fs::rename(
            env.uploads.path().join("big.bin"),
            env.downloads.path().join("big.bin"),
        )
        .unwrap();
        let mut got = Vec::new();
        let n = xc
            .download_file("big.bin", &mut got, HashMap::new())
            .await
            .unwrap();
        assert_eq!(n, 64 << 20);
        assert_eq!(sha1(&got), want);
    };
    tokio::time::timeout(Duration::from_secs(120), work)
        .await
        .expect("64 MiB round trip within two minutes");
}

#[tokio::test]
async fn json_round_trip_on_client_and_subdirectory_and_empty_file() {
    let env = start(FileTransferOptions::default()).await;
    let src = TempDir::new("src");
    let client = Client::connect(
        &env.server.local_address().to_string(),
        ClientOptions::default().serialize_type(SerializeType::JSON),
    )
    .await
    .unwrap();
    for (name, len) in [("small.txt", 1000usize), ("empty", 0)] {
        let body = data(len, 2);
        std::fs::write(src.path().join(name), &body).unwrap();
        let n = client
            .send_file(
                FILE_TRANSFER_SERVICE,
                src.path().join(name),
                0,
                HashMap::new(),
            )
            .await
            .unwrap();
        assert_eq!(n as usize, len);
        assert_eq!(std::fs::read(env.uploads.path().join(name)).unwrap(), body);
    }
    std::fs::create_dir(env.downloads.path().join("sub")).unwrap();
    std::fs::write(env.downloads.path().join("sub/f.txt"), b"nested").unwrap();
    let mut got = Vec::new();
    client
        .download_file(FILE_TRANSFER_SERVICE, "sub/f.txt", &mut got, HashMap::new())
        .await
        .unwrap();
    assert_eq!(got, b"nested");
    // A rate limit still delivers every byte.
    let body = data(200_000, 3);
    std::fs::write(src.path().join("paced.bin"), &body).unwrap();
    client
        .send_file(
            FILE_TRANSFER_SERVICE,
            src.path().join("paced.bin"),
            1 << 20,
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(env.uploads.path().join("paced.bin")).unwrap(),
        body
    );
}

#[tokio::test]
async fn unknown_token_is_refused_and_closed() {
    let env = start(FileTransferOptions::default()).await;
    let mut c = TcpStream::connect(env.side.local_addr()).await.unwrap();
    c.write_all(&[7u8; 32]).await.unwrap();
    c.write_all(b"some file bytes").await.unwrap();
    let r = until_closed(&mut c).await;
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    assert!(listing(env.uploads.path()).is_empty());
}

#[tokio::test]
async fn expired_token_is_refused() {
    let options = FileTransferOptions {
        side: SideOptions {
            token_ttl: Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    };
    let env = start(options).await;
    let client = Client::connect(
        &env.server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    std::fs::write(env.downloads.path().join("f"), b"data").unwrap();
    let reply = token_for_download(&client, "f").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut c = side_conn(&reply).await;
    let r = until_closed(&mut c).await;
    assert!(
        matches!(r, Ok(0) | Err(_)),
        "no bytes for an expired token: {r:?}"
    );
}

#[tokio::test]
async fn token_works_once() {
    let env = start(FileTransferOptions::default()).await;
    let client = Client::connect(
        &env.server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    std::fs::write(env.downloads.path().join("f"), b"data").unwrap();
    let reply = token_for_download(&client, "f").await;
    let mut first = side_conn(&reply).await;
    let mut got = Vec::new();
    tokio::time::timeout(BOUND, first.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"data");
    let mut second = side_conn(&reply).await;
    let r = until_closed(&mut second).await;
    assert!(matches!(r, Ok(0) | Err(_)), "a reused token got {r:?}");
}

#[tokio::test]
async fn stalled_side_connections_time_out() {
    let options = FileTransferOptions {
        side: SideOptions {
            handshake_timeout: Duration::from_millis(500),
            ..Default::default()
        },
        io_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let env = start(options).await;
    // No token at all.
    let mut silent = TcpStream::connect(env.side.local_addr()).await.unwrap();
    assert!(matches!(until_closed(&mut silent).await, Ok(0) | Err(_)));
    // Half a token.
    let mut half = TcpStream::connect(env.side.local_addr()).await.unwrap();
    half.write_all(&[1u8; 16]).await.unwrap();
    assert!(matches!(until_closed(&mut half).await, Ok(0) | Err(_)));
    // A good token, then half the declared bytes and silence: aborted, nothing saved.
    let client = Client::connect(
        &env.server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let reply = token_for_upload(&client, "stall.bin", 1000).await;
    let mut c = side_conn(&reply).await;
    c.write_all(&[0u8; 500]).await.unwrap();
    let _ = until_closed(&mut c).await;
    wait_listing(env.uploads.path(), &[]).await;
}

#[tokio::test]
async fn upload_longer_or_shorter_than_declared_is_dropped() {
    let env = start(FileTransferOptions::default()).await;
    let client = Client::connect(
        &env.server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let reply = token_for_upload(&client, "long.bin", 10).await;
    let mut c = side_conn(&reply).await;
    let _ = c.write_all(&[1u8; 4096]).await;
    let r = until_closed(&mut c).await;
    assert!(r.is_err() || r.unwrap() == 0);
    let reply = token_for_upload(&client, "short.bin", 100).await;
    let mut c = side_conn(&reply).await;
    c.write_all(&[1u8; 10]).await.unwrap();
    c.shutdown().await.unwrap();
    let _ = until_closed(&mut c).await;
    wait_listing(env.uploads.path(), &[]).await;
}

#[tokio::test]
async fn path_traversal_is_refused() {
    let env = start(FileTransferOptions::default()).await;
    let xc = xclient(&env, SerializeType::MSGPACK);
    std::fs::write(env.outside.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(
        env.outside.path().join("secret"),
        env.downloads.path().join("link"),
    )
    .unwrap();
    std::os::unix::fs::symlink(env.outside.path(), env.downloads.path().join("dirlink")).unwrap();
    let outside_abs = env.outside.path().join("secret");
    let rel_escape = format!(
        "../{}/secret",
        env.outside.path().file_name().unwrap().to_str().unwrap()
    );
    for (name, why) in [
        (rel_escape.as_str(), "contains '..'"),
        ("sub/../../secret", "contains '..'"),
        (outside_abs.to_str().unwrap(), "absolute path"),
        ("link", "outside the download directory"),
        ("dirlink/secret", "outside the download directory"),
        (".", "not a regular file"),
        ("missing", "No such file"),
        ("", "invalid download file name"),
    ] {
        let mut got = Vec::new();
        let e = xc
            .download_file(name, &mut got, HashMap::new())
            .await
            .unwrap_err();
        let msg = e
            .server_message()
            .unwrap_or_else(|| panic!("{name:?}: {e}"));
        assert!(msg.contains(why), "{name:?}: {msg}");
        assert!(got.is_empty());
    }
    // Upload names keep only their last component; hidden and empty names are refused.
    let client = Client::connect(
        &env.server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    for bad in ["..", "x/..", ".profile", ""] {
        let args = FileTransferArgs {
            file_name: bad.into(),
            file_size: 1,
            meta: HashMap::new(),
        };
        let e = client
            .call::<_, FileTransferReply>(FILE_TRANSFER_SERVICE, "TransferFile", &args)
            .await
            .unwrap_err();
        assert!(
            e.server_message()
                .unwrap()
                .contains("invalid upload file name"),
            "{bad:?}: {e}"
        );
    }
    let reply = token_for_upload(&client, "../../escape.txt", 3).await;
    let mut c = side_conn(&reply).await;
    c.write_all(b"abc").await.unwrap();
    c.shutdown().await.unwrap();
    assert!(until_closed(&mut c).await.is_ok());
    wait_listing(env.uploads.path(), &["escape.txt"]).await;
    assert_eq!(listing(env.outside.path()), ["secret"]);
}

#[tokio::test]
async fn files_over_the_limit_are_refused() {
    let options = FileTransferOptions {
        max_file_size: 1024,
        ..Default::default()
    };
    let env = start(options).await;
    let xc = xclient(&env, SerializeType::MSGPACK);
    let src = TempDir::new("src");
    std::fs::write(src.path().join("big"), vec![0u8; 2048]).unwrap();
    let e = xc
        .send_file(src.path().join("big"), 0, HashMap::new())
        .await
        .unwrap_err();
    assert!(
        e.server_message()
            .unwrap()
            .contains("file too large: 2048 bytes, the limit is 1024"),
        "{e}"
    );
    std::fs::write(env.downloads.path().join("big"), vec![0u8; 2048]).unwrap();
    let mut got = Vec::new();
    let e = xc
        .download_file("big", &mut got, HashMap::new())
        .await
        .unwrap_err();
    assert!(
        e.server_message().unwrap().contains("the limit is 1024"),
        "{e}"
    );
    // Exactly at the limit is fine.
    std::fs::write(src.path().join("ok"), vec![5u8; 1024]).unwrap();
    xc.send_file(src.path().join("ok"), 0, HashMap::new())
        .await
        .unwrap();
    assert_eq!(listing(env.uploads.path()), ["ok"]);
}

#[tokio::test]
async fn disabled_directions_and_closed_side_listener() {
    let mut s = Server::builder().build();
    let side = FileTransfer::new(FileTransferOptions::default())
        .register(&mut s)
        .await
        .unwrap();
    let server = s.serve("tcp@127.0.0.1:0").await.unwrap();
    let xc = XClient::new(
        FILE_TRANSFER_SERVICE,
        MultipleServers::from_addresses([server.local_address().to_string()]),
        XClientOptions::default(),
    )
    .unwrap();
    let mut got = Vec::new();
    let e = xc
        .download_file("x", &mut got, HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        e.server_message(),
        Some("file download is not enabled on this server")
    );
    let src = TempDir::new("src");
    std::fs::write(src.path().join("a"), b"a").unwrap();
    let e = xc
        .send_file(src.path().join("a"), 0, HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        e.server_message(),
        Some("file upload is not enabled on this server")
    );
    let addr = side.local_addr();
    drop(side);
    let deadline = tokio::time::Instant::now() + BOUND;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "side listener still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn upload_handler_receives_the_bytes() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let mut s = Server::builder().build();
    let _side = FileTransfer::new(FileTransferOptions::default())
        .upload_handler(move |args, mut upload| {
            let tx = tx.clone();
            async move {
                let mut all = Vec::new();
                while let Some(chunk) = upload.chunk().await.map_err(|e| e.to_string())? {
                    all.extend_from_slice(chunk);
                }
                tx.send((args, all)).await.map_err(|e| e.to_string())
            }
        })
        .register(&mut s)
        .await
        .unwrap();
    let server = s.serve("tcp@127.0.0.1:0").await.unwrap();
    let src = TempDir::new("src");
    let body = data(300_000, 9);
    std::fs::write(src.path().join("h.bin"), &body).unwrap();
    let client = Client::connect(
        &server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let mut meta = HashMap::new();
    meta.insert("user".to_string(), "ann".to_string());
    client
        .send_file(FILE_TRANSFER_SERVICE, src.path().join("h.bin"), 0, meta)
        .await
        .unwrap();
    let (args, all) = tokio::time::timeout(BOUND, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(args.file_name, "h.bin");
    assert_eq!(args.file_size, 300_000);
    assert_eq!(args.meta.get("user").map(String::as_str), Some("ann"));
    assert_eq!(sha1(&all), sha1(&body));
}

#[tokio::test]
async fn download_handler_produces_the_bytes_and_an_unfinished_download_is_an_error() {
    let mut s = Server::builder().build();
    let _side = FileTransfer::new(FileTransferOptions {
        max_file_size: 1 << 20,
        ..Default::default()
    })
    .download_handler(|args, mut download| async move {
        match args.file_name.as_str() {
            "gen" => {
                for i in 0..100u64 {
                    let chunk = data(10_000, i);
                    download.write(&chunk).await.map_err(|e| e.to_string())?;
                }
                download.finish().await.map_err(|e| e.to_string())
            }
            "too-big" => {
                let chunk = vec![0u8; 600_000];
                download.write(&chunk).await.map_err(|e| e.to_string())?;
                download.write(&chunk).await.map_err(|e| e.to_string())?;
                download.finish().await.map_err(|e| e.to_string())
            }
            _ => {
                download
                    .write(b"partial")
                    .await
                    .map_err(|e| e.to_string())?;
                Err("no such file".to_string())
            }
        }
    })
    .register(&mut s)
    .await
    .unwrap();
    let server = s.serve("tcp@127.0.0.1:0").await.unwrap();
    let client = Client::connect(
        &server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let n = client
        .download_file(FILE_TRANSFER_SERVICE, "gen", &mut got, HashMap::new())
        .await
        .unwrap();
    assert_eq!(n, 1_000_000);
    let want: Vec<u8> = (0..100u64).flat_map(|i| data(10_000, i)).collect();
    assert_eq!(sha1(&got), sha1(&want));
    for name in ["too-big", "other"] {
        let mut got = Vec::new();
        let e = client
            .download_file(FILE_TRANSFER_SERVICE, name, &mut got, HashMap::new())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("the server aborted the transfer"),
            "{name}: {e}"
        );
    }
}
