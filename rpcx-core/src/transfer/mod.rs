//! File transfer and streams (Go's `_filetransfer` and `_streamservice`), wire-compatible with
//! Go rpcx v1.9.4 in both directions.
//!
//! Both work the same way: an ordinary rpcx call (`_filetransfer.TransferFile`,
//! `_filetransfer.DownloadFile` or `_streamservice.Stream`) returns a 32-byte random token and
//! the address of a **side listener** (plain TCP, no rpcx framing). The client connects there
//! and writes the 32 token bytes; then
//!
//! * upload (`TransferFile`): the client writes the file's bytes and closes;
//! * download (`DownloadFile`): the server writes the file's bytes and closes;
//! * stream (`Stream`): the connection belongs to the application, both ways.
//!
//! A token is good for one connection and expires ([`SideOptions::token_ttl`]); at most
//! [`SideOptions::max_tokens`] wait at once (the oldest is dropped first, as Go's LRU does). A
//! connection that does not send a valid token in [`SideOptions::handshake_timeout`] is closed
//! and logged (`warn`, target `rpcx::transfer`).
//!
//! Server side: [`FileTransfer`] and [`StreamService`]. Client side: [`XClient::send_file`],
//! [`XClient::download_file`] and [`XClient::stream`] (and the same on
//! [`Client`](crate::client::Client) with an explicit service name).
//!
//! [`XClient::send_file`]: crate::xclient::XClient::send_file
//! [`XClient::download_file`]: crate::xclient::XClient::download_file
//! [`XClient::stream`]: crate::xclient::XClient::stream

mod client;
mod server;
mod side;
mod types;

pub use client::FILE_TRANSFER_BUFFER_SIZE;
pub use server::{
    Download, DownloadHandler, FileTransfer, FileTransferOptions, SideHandle, StreamAcceptor,
    StreamHandler, StreamService, Upload, UploadHandler,
};
pub use side::SideOptions;
pub use types::{
    DownloadFileArgs, FileTransferArgs, FileTransferReply, StreamServiceArgs, StreamServiceReply,
    FILE_TRANSFER_SERVICE, STREAM_SERVICE, TOKEN_LEN,
};
