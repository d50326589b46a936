//! Criterion micro-benchmarks of frame encoding and decoding (581-byte payload, two metadata
//! pairs). Run with `cargo bench -p rpcx --bench protocol`.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rpcx::protocol::FrameCodec;

mod sample;

fn bench(c: &mut Criterion) {
    let msg = sample::message();
    let frame = msg.encode().unwrap();
    let mut g = c.benchmark_group("frame_581B_2meta");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    let mut buf = BytesMut::with_capacity(4096);
    g.bench_function("encode_into", |b| {
        b.iter(|| {
            buf.clear();
            msg.encode_into(&mut buf).unwrap();
        })
    });
    let codec = FrameCodec::default();
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut src = BytesMut::from(&frame[..]);
            codec.decode_frame(&mut src).unwrap().unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
