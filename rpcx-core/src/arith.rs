//! The `Arith` demo service, in the shapes of the Go examples, shared by the examples, the
//! tests, the CLI and the interop suite: `Mul`, `Add`, `Div` on `{"A":int,"B":int}` →
//! `{"C":int}` (Protobuf `ProtoArgs{A=1,B=2}` → `ProtoReply{C=1}`), `Echo` on raw bytes, plus
//! `Sleep`, `Meta` and `Push` used to test timeouts, metadata and server pushes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::protocol::Metadata;
use crate::server::{Context, Server, ServiceError};
use crate::Error;

/// Arguments of `Mul`, `Add` and `Div`. JSON/MsgPack keys `A`, `B`; Protobuf fields 1, 2.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Args {
    /// First operand.
    #[prost(int64, tag = "1")]
    #[serde(rename = "A")]
    pub a: i64,
    /// Second operand.
    #[prost(int64, tag = "2")]
    #[serde(rename = "B")]
    pub b: i64,
}

/// Reply of `Mul`, `Add`, `Div`, `Sleep` and `Meta`. JSON/MsgPack key `C`; Protobuf field 1.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct Reply {
    /// The result.
    #[prost(int64, tag = "1")]
    #[serde(rename = "C")]
    pub c: i64,
}

/// Arguments of `Sleep`: sleep this many milliseconds (or until the caller's deadline).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct SleepArgs {
    /// Milliseconds.
    #[prost(int64, tag = "1")]
    #[serde(rename = "Ms")]
    pub ms: i64,
}

/// Arguments of `Push`: push `data` back to the caller `count` times as `Push.Data`.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
#[serde(default)]
pub struct PushArgs {
    /// How many pushes.
    #[prost(int64, tag = "1")]
    #[serde(rename = "Count")]
    pub count: i64,
    /// Payload of each push.
    #[prost(string, tag = "2")]
    #[serde(rename = "Data")]
    pub data: String,
}

crate::codable!(Args, Reply, SleepArgs, PushArgs);

/// Error text of `Div` by zero.
pub const DIVIDE_BY_ZERO: &str = "divide by zero";

/// The Arith service object.
#[derive(Debug, Default, Clone, Copy)]
pub struct Arith;

impl Arith {
    /// `A * B`.
    pub async fn mul(&self, _ctx: Context, args: Args) -> Result<Reply, ServiceError> {
        Ok(Reply {
            c: args.a.wrapping_mul(args.b),
        })
    }

    /// `A + B`.
    pub async fn add(&self, _ctx: Context, args: Args) -> Result<Reply, ServiceError> {
        Ok(Reply {
            c: args.a.wrapping_add(args.b),
        })
    }

    /// `A / B`; `divide by zero` (with a zero reply, as Go sends) when B is 0.
    pub async fn div(&self, _ctx: Context, args: Args) -> Result<Reply, ServiceError> {
        if args.b == 0 {
            return Err(ServiceError::new(DIVIDE_BY_ZERO).with_reply(Reply { c: 0 }));
        }
        Ok(Reply {
            c: args.a.wrapping_div(args.b),
        })
    }

    /// The payload back, unchanged.
    pub async fn echo(&self, _ctx: Context, data: Bytes) -> Result<Bytes, ServiceError> {
        Ok(data)
    }

    /// Sleeps `Ms` milliseconds (the server cuts it at the caller's deadline); replies `Ms`.
    pub async fn sleep(&self, _ctx: Context, args: SleepArgs) -> Result<Reply, ServiceError> {
        tokio::time::sleep(Duration::from_millis(args.ms.max(0) as u64)).await;
        Ok(Reply { c: args.ms })
    }

    /// Echoes each request metadata pair back as `echo-<key>`; replies the pair count.
    pub async fn meta(&self, ctx: Context, _args: Args) -> Result<Reply, ServiceError> {
        let md: &Metadata = ctx.metadata();
        for (k, v) in md {
            ctx.set_reply_meta(format!("echo-{k}"), v.clone());
        }
        Ok(Reply { c: md.len() as i64 })
    }

    /// Pushes `Data` to the caller `Count` times (service path `Push`, method `Data`).
    pub async fn push(&self, ctx: Context, args: PushArgs) -> Result<Reply, ServiceError> {
        for _ in 0..args.count.clamp(0, 10_000) {
            ctx.connection()
                .push(
                    "Push",
                    "Data",
                    Metadata::new(),
                    args.data.clone().into_bytes(),
                )
                .await?;
        }
        Ok(Reply { c: args.count })
    }
}

crate::rpc_methods!(Arith {
    "Mul" => mul,
    "Add" => add,
    "Div" => div,
    "Echo" => echo,
    "Sleep" => sleep,
    "Meta" => meta,
    "Push" => push,
});

/// Registers [`Arith`] on `server` as `Arith`.
pub fn register(server: &mut Server) -> Result<(), Error> {
    server.register_object("Arith", Arc::new(Arith))
}
