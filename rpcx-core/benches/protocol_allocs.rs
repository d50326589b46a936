//! Counts heap allocations (blocks and bytes) per encode and per decode of the benchmark
//! frame (dhat's heap profiler as the global allocator). Run with `cargo bench -p rpcx --bench protocol_allocs`.

use bytes::BytesMut;
use rpcx::protocol::FrameCodec;

mod sample;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const N: u64 = 10_000;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let msg = sample::message();
    let frame = msg.encode().unwrap();
    let mut buf = BytesMut::with_capacity(4096);
    msg.encode_into(&mut buf).unwrap();

    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..N {
        buf.clear();
        msg.encode_into(&mut buf).unwrap();
    }
    let encode = dhat::HeapStats::get().total_blocks - before;

    let codec = FrameCodec::default();
    // The input buffer is filled once per frame as a socket read would; its allocation is
    // counted separately from the decoder's own.
    let before = dhat::HeapStats::get().total_blocks;
    let mut inputs: Vec<BytesMut> = (0..N).map(|_| BytesMut::from(&frame[..])).collect();
    let input_allocs = dhat::HeapStats::get().total_blocks - before;
    let before = dhat::HeapStats::get();
    for src in inputs.iter_mut() {
        std::hint::black_box(codec.decode_frame(src).unwrap().unwrap());
    }
    let after = dhat::HeapStats::get();
    let decode = after.total_blocks - before.total_blocks;
    let decode_bytes = after.total_bytes - before.total_bytes;
    println!(
        "frame {} bytes, {} metadata entries: encode_into {:.2} allocs/op, decode {:.2} allocs/op \
         of {:.0} bytes/op (input buffers: {:.2}/op, not counted)",
        frame.len(),
        msg.metadata.len(),
        encode as f64 / N as f64,
        decode as f64 / N as f64,
        decode_bytes as f64 / N as f64,
        input_allocs as f64 / N as f64
    );
}
