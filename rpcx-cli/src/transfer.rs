//! `rpcx upload` and `rpcx download`: Go's SendFile and DownloadFile.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rpcx::client::{Client, ClientOptions};

use crate::cli::TransferArgs;
use crate::failure::Failure;
use crate::validate::{check_address, meta_pair, timeout_secs};

/// Prints a transfer's outcome: the line to stdout (stderr when stdout carries the file).
pub(crate) fn report(r: Result<(String, bool), Failure>) -> ExitCode {
    match r {
        Ok((line, to_stderr)) => {
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => e.exit(),
    }
}

/// The client and metadata of an upload or download.
pub(crate) async fn transfer_client(
    a: &TransferArgs,
) -> Result<(Client, std::collections::HashMap<String, String>), Failure> {
    let timeout = timeout_secs(a.timeout)?;
    check_address(&a.address)?;
    let mut meta = std::collections::HashMap::new();
    for kv in &a.meta {
        let (k, v) = meta_pair(kv)?;
        meta.insert(k, v);
    }
    let mut options = ClientOptions::default()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)));
    if let Some(t) = &a.auth {
        options = options.auth(t.clone());
    }
    if let Some(tls) = a.tls.config()? {
        options = options.with_tls(tls.build().map_err(|e| e.to_string())?);
    }
    let client = Client::connect(&a.address, options)
        .await
        .map_err(Failure::rpc)?;
    Ok((client, meta))
}

pub(crate) async fn upload(a: TransferArgs) -> Result<(String, bool), Failure> {
    if a.output.is_some() {
        return Err("-o/--output is for download".into());
    }
    // A local file that cannot be read is bad input, found before connecting.
    std::fs::File::open(&a.file).map_err(|e| Failure::Input(format!("{}: {e}", a.file)))?;
    let (client, meta) = transfer_client(&a).await?;
    let sent = client
        .send_file(&a.service, &a.file, a.rate, meta)
        .await
        .map_err(Failure::rpc);
    client.close();
    Ok((format!("{} bytes sent", sent?), false))
}

pub(crate) async fn download(a: TransferArgs) -> Result<(String, bool), Failure> {
    if a.rate != 0 {
        return Err("--rate is for upload".into());
    }
    let (client, meta) = transfer_client(&a).await?;
    let to_stdout = a.output.as_deref() == Some(std::path::Path::new("-"));
    let result = if to_stdout {
        let mut out = tokio::io::stdout();
        let n = client
            .download_file(&a.service, &a.file, &mut out, meta)
            .await
            .map_err(Failure::rpc);
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .map_err(|e| Failure::Other(e.to_string()))?;
        n
    } else {
        let path = match &a.output {
            Some(p) => p.clone(),
            None => PathBuf::from(
                std::path::Path::new(&a.file)
                    .file_name()
                    .ok_or_else(|| format!("{:?} has no file name: give -o PATH", a.file))?,
            ),
        };
        // Into a temporary file next to it, renamed once the whole file arrived.
        let mut tmp = path.clone().into_os_string();
        tmp.push(".rpcx-part");
        let tmp = PathBuf::from(tmp);
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| Failure::Other(format!("{}: {e}", tmp.display())))?;
        let n = client
            .download_file(&a.service, &a.file, &mut file, meta)
            .await
            .map_err(Failure::rpc);
        let done = match n {
            Ok(n) => tokio::io::AsyncWriteExt::flush(&mut file)
                .await
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map(|_| n)
                .map_err(|e| Failure::Other(format!("{}: {e}", path.display()))),
            Err(e) => Err(e),
        };
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    };
    client.close();
    Ok((format!("{} bytes received", result?), to_stdout))
}
