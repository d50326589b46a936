package svc

import "github.com/smallnest/rpcx/protocol"

// Snappy is the compress type the interop binaries give Go rpcx's own
// protocol.SnappyCompressor (Go ships it without a number; the Rust
// implementation's `snappy` feature uses 2, CompressType::SNAPPY).
const Snappy protocol.CompressType = 2

// Every interop binary importing svc (goserver, goclient, …) can send and
// answer snappy-compressed calls, as an application would set it up.
func init() {
	protocol.Compressors[Snappy] = &protocol.SnappyCompressor{}
}
