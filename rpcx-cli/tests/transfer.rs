//! `rpcx upload` and `rpcx download` against a server with file transfer on: the bytes arrive
//! intact both ways (to a file and to stdout), a traversal attempt and a missing file are
//! refused with the server's reason (exit status 5), and a missing local file and misused flags
//! are bad input (6).

mod common;

use std::path::Path;
use std::process::Command;

use common::{text, TempDir};
use rpcx::server::Server;
use rpcx::transfer::{FileTransfer, FileTransferOptions};

fn rpcx(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rpcx"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run rpcx")
}

#[test]
fn upload_and_download_through_the_cli() {
    let (uploads, downloads, work) = (
        TempDir::new("up"),
        TempDir::new("down"),
        TempDir::new("work"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, side) = rt.block_on(async {
        let mut s = Server::builder().build();
        let side = FileTransfer::new(FileTransferOptions::default())
            .upload_dir(&uploads.0)
            .download_dir(&downloads.0)
            .register(&mut s)
            .await
            .unwrap();
        (s.serve("tcp@127.0.0.1:0").await.unwrap(), side)
    });
    let addr = handle.local_address().to_string();
    // 3 MiB of varied bytes.
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();

    // Upload: saved under the server's upload directory by its base name.
    let local = work.0.join("report.bin");
    std::fs::write(&local, &data).unwrap();
    let out = rpcx(&["upload", &addr, local.to_str().unwrap()], &work.0);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout).trim(),
        format!("{} bytes sent", data.len())
    );
    assert_eq!(std::fs::read(uploads.0.join("report.bin")).unwrap(), data);

    // Download to the default path (the name's last part in the current directory).
    std::fs::write(downloads.0.join("served.bin"), &data[..1_000_000]).unwrap();
    let out = rpcx(&["download", &addr, "served.bin"], &work.0);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "1000000 bytes received");
    assert_eq!(
        std::fs::read(work.0.join("served.bin")).unwrap(),
        &data[..1_000_000]
    );
    // To stdout: the bytes alone there, the count on stderr.
    let out = rpcx(&["download", &addr, "served.bin", "-o", "-"], &work.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, &data[..1_000_000]);
    assert_eq!(text(&out.stderr).trim(), "1000000 bytes received");

    // Refusals carry the server's reason, exit 5, and leave no partial file behind.
    for name in ["../outside.txt", "missing.bin"] {
        let out = rpcx(&["download", &addr, name, "-o", "got.bin"], &work.0);
        assert_eq!(out.status.code(), Some(5), "{name}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).starts_with("error: server error: "),
            "{}",
            text(&out.stderr)
        );
        assert!(!work.0.join("got.bin").exists());
        assert!(!work.0.join("got.bin.rpcx-part").exists());
    }
    let out = rpcx(&["upload", &addr, "no-such-file"], &work.0);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    // Flags of the other direction, and a bad timeout, are refused before connecting.
    for args in [
        vec!["upload", &addr, "x", "-o", "y"],
        vec!["download", &addr, "x", "--rate", "5"],
        vec!["download", &addr, "x", "--timeout", "1e20"],
    ] {
        let out = rpcx(&args, &work.0);
        assert_eq!(
            out.status.code(),
            Some(6),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    drop(side);
    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}
