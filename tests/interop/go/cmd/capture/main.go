// Command capture writes golden rpcx frames produced by the real Go rpcx code
// into a vectors directory as JSON files (one per frame):
//
//   - go_<kind>_....json       frames built as protocol.Message values and
//     serialised with the real Go encoder (msg.Encode()).
//   - go_live_<kind>_....json  frames the real Go client and server actually
//     wrote on a loopback TCP connection, recorded by a byte-recording proxy
//     between them.
//
// Every vector is re-decoded with the real Go decoder to fill "expect", and the
// encoded ones are cross-checked against the golden hex of the protocol spec.
//
// Usage: go run ./cmd/capture -out ../vectors
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/codec"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/server"
	"github.com/smallnest/rpcx/share"

	"rpcx-interop/internal/svc"
	"rpcx-interop/pb"
)

type expect struct {
	MessageType   string            `json:"message_type"`
	Heartbeat     bool              `json:"heartbeat"`
	Oneway        bool              `json:"oneway"`
	Compress      int               `json:"compress"`
	Status        int               `json:"status"`
	Serialize     int               `json:"serialize"`
	Seq           uint64            `json:"seq"`
	ServicePath   string            `json:"service_path"`
	ServiceMethod string            `json:"service_method"`
	Metadata      map[string]string `json:"metadata"`
	PayloadHex    string            `json:"payload_hex"`
}

type vector struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Source      string `json:"source"`
	Hex         string `json:"hex"`
	Expect      expect `json:"expect"`
}

var (
	vectors []vector
	failed  bool
)

func failf(format string, a ...interface{}) {
	failed = true
	fmt.Fprintf(os.Stderr, "capture: FAIL: "+format+"\n", a...)
}

// decodeExpect decodes frame with the real Go decoder.
func decodeExpect(frame []byte) (expect, error) {
	m := protocol.NewMessage()
	r := bytes.NewReader(frame)
	if err := m.Decode(r); err != nil {
		return expect{}, err
	}
	if r.Len() != 0 {
		return expect{}, fmt.Errorf("%d trailing bytes after the frame", r.Len())
	}
	e := expect{
		MessageType:   "request",
		Heartbeat:     m.IsHeartbeat(),
		Oneway:        m.IsOneway(),
		Compress:      int(m.CompressType()),
		Status:        int(m.MessageStatusType()),
		Serialize:     int(m.SerializeType()),
		Seq:           m.Seq(),
		ServicePath:   strings.Clone(m.ServicePath),
		ServiceMethod: strings.Clone(m.ServiceMethod),
		Metadata:      map[string]string{},
		PayloadHex:    hex.EncodeToString(m.Payload),
	}
	if m.MessageType() == protocol.Response {
		e.MessageType = "response"
	}
	for k, v := range m.Metadata {
		e.Metadata[strings.Clone(k)] = strings.Clone(v)
	}
	return e, nil
}

func add(name, source, desc string, frame []byte) {
	e, err := decodeExpect(frame)
	if err != nil {
		failf("%s: Go decoder rejects the frame: %v", name, err)
		return
	}
	for _, v := range vectors {
		if v.Name == name {
			failf("duplicate vector name %s", name)
			return
		}
	}
	vectors = append(vectors, vector{Name: name, Description: desc, Source: source, Hex: hex.EncodeToString(frame), Expect: e})
}

// ---------------------------------------------------------------- encoded frames

type msgSpec struct {
	resp      bool
	heartbeat bool
	oneway    bool
	compress  protocol.CompressType
	status    protocol.MessageStatusType
	ser       protocol.SerializeType
	seq       uint64
	path      string
	method    string
	meta      map[string]string
	payload   []byte
}

func encode(s msgSpec) []byte {
	m := protocol.NewMessage()
	if s.resp {
		m.SetMessageType(protocol.Response)
	}
	m.SetHeartbeat(s.heartbeat)
	m.SetOneway(s.oneway)
	m.SetCompressType(s.compress)
	m.SetMessageStatusType(s.status)
	m.SetSerializeType(s.ser)
	m.SetSeq(s.seq)
	m.ServicePath = s.path
	m.ServiceMethod = s.method
	m.Metadata = s.meta
	m.Payload = s.payload
	return append([]byte(nil), m.Encode()...)
}

func mustEncode(c codec.Codec, v interface{}) []byte {
	b, err := c.Encode(v)
	if err != nil {
		panic(err)
	}
	return append([]byte(nil), b...)
}

// specHex holds the golden frames of rpcx-core/tests/protocol_golden.rs that
// the encoded frames below must reproduce byte for byte.
var specHex = map[string]string{
	"go_request_json_mul":                "08000010000000000000000100000027000000054172697468000000034d756c000000000000000f7b2241223a31302c2242223a32307d",
	"go_response_json_mul":               "08008010000000000000000100000021000000054172697468000000034d756c00000000000000097b2243223a3230307d",
	"go_response_error_method_not_found": "0800811000000000000000020000004900000005417269746800000003446976000000310000000e5f5f727063785f6572726f725f5f0000001b727063783a2063616e27742066696e64206d6574686f642044697600000000",
	"go_response_service_error_div":      "0800811000000000000000050000004300000005417269746800000003446976000000240000000e5f5f727063785f6572726f725f5f0000000e646976696465206279207a65726f000000077b2243223a307d",
	"go_request_json_metadata_auth":      "0800001000000000000000030000003f000000054172697468000000034d756c00000018000000065f5f415554480000000a626561726572206162630000000f7b2241223a31302c2242223a32307d",
	"go_request_json_server_timeout":     "08000010000000000000000600000042000000054172697468000000034d756c0000001b0000000f5f5f53657276657254696d656f757400000004343939390000000f7b2241223a31302c2242223a32307d",
	"go_request_msgpack_mul":             "0800003000000000000000000000001f000000054172697468000000034d756c000000000000000782a1410aa14214",
	"go_response_msgpack_mul":            "0800803000000000000000000000001d000000054172697468000000034d756c000000000000000581a143ccc8",
	"go_request_heartbeat":               "0800403000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
	"go_response_heartbeat":              "0800c03000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
	"go_push_server_message":             "0800200000000000000000010000003900000011746573745f736572766963655f7061746800000013746573745f736572766963655f6d6574686f6400000000000000056162636465",
	"go_request_json_oneway":             "08002010000000000000000400000027000000054172697468000000034d756c000000000000000f7b2241223a31302c2242223a32307d",
}

// gzipPayload is > 1 KiB, deterministic and compressible.
func gzipPayload() []byte {
	return bytes.Repeat([]byte("rpcx-gzip-vector|"), 72) // 1224 bytes
}

func encodedVectors() {
	jsonC, mpC, pbC := codec.JSONCodec{}, codec.MsgpackCodec{}, codec.PBCodec{}
	args := &svc.Args{A: 10, B: 20}
	reply := &svc.Reply{C: 200}
	pargs := &pb.ProtoArgs{A: 10, B: 20}
	preply := &pb.ProtoReply{C: 200}
	const src = "encode"

	add("go_request_json_mul", src, "JSON request Arith.Mul seq 1, args {\"A\":10,\"B\":20}, no metadata (spec V1)",
		encode(msgSpec{ser: protocol.JSON, seq: 1, path: "Arith", method: "Mul", payload: mustEncode(jsonC, args)}))
	add("go_response_json_mul", src, "JSON response to Arith.Mul seq 1, reply {\"C\":200} (spec V2)",
		encode(msgSpec{resp: true, ser: protocol.JSON, seq: 1, path: "Arith", method: "Mul", payload: mustEncode(jsonC, reply)}))
	add("go_request_msgpack_mul", src, "MsgPack request Arith.Mul seq 0, args {A:10,B:20} as fixmap with Go field names (spec V5a)",
		encode(msgSpec{ser: protocol.MsgPack, seq: 0, path: "Arith", method: "Mul", payload: mustEncode(mpC, args)}))
	add("go_response_msgpack_mul", src, "MsgPack response Arith.Mul seq 0, reply {C:200} (200 as uint8 cc c8) (spec V5b)",
		encode(msgSpec{resp: true, ser: protocol.MsgPack, seq: 0, path: "Arith", method: "Mul", payload: mustEncode(mpC, reply)}))
	add("go_request_protobuf_mul", src, "Protobuf request ProtoArith.Mul seq 1, ProtoArgs{A:10,B:20} = 08 0a 10 14",
		encode(msgSpec{ser: protocol.ProtoBuffer, seq: 1, path: "ProtoArith", method: "Mul", payload: mustEncode(pbC, pargs)}))
	add("go_response_protobuf_mul", src, "Protobuf response ProtoArith.Mul seq 1, ProtoReply{C:200} = 08 c8 01",
		encode(msgSpec{resp: true, ser: protocol.ProtoBuffer, seq: 1, path: "ProtoArith", method: "Mul", payload: mustEncode(pbC, preply)}))
	raw := []byte("hello rpcx")
	add("go_request_raw_echo", src, "raw (serialize 0) request Arith.Echo seq 1, payload = the bytes \"hello rpcx\"",
		encode(msgSpec{ser: protocol.SerializeNone, seq: 1, path: "Arith", method: "Echo", payload: raw}))
	add("go_response_raw_echo", src, "raw (serialize 0) response Arith.Echo seq 1, payload \"hello rpcx\"",
		encode(msgSpec{resp: true, ser: protocol.SerializeNone, seq: 1, path: "Arith", method: "Echo", payload: raw}))
	add("go_response_error_method_not_found", src, "error response (status 1) to JSON Arith.Div seq 2 when the method does not exist: metadata __rpcx_error__, empty payload (spec V3)",
		encode(msgSpec{resp: true, status: protocol.Error, ser: protocol.JSON, seq: 2, path: "Arith", method: "Div",
			meta: map[string]string{protocol.ServiceError: "rpcx: can't find method Div"}}))
	add("go_response_service_error_div", src, "error response returned by the service (\"divide by zero\"), seq 5; the zero reply {\"C\":0} is still in the payload (spec V3c)",
		encode(msgSpec{resp: true, status: protocol.Error, ser: protocol.JSON, seq: 5, path: "Arith", method: "Div",
			meta: map[string]string{protocol.ServiceError: "divide by zero"}, payload: mustEncode(jsonC, &svc.Reply{})}))
	add("go_request_json_metadata_auth", src, "JSON request Arith.Mul seq 3 with one metadata pair __AUTH = \"bearer abc\" (spec V4)",
		encode(msgSpec{ser: protocol.JSON, seq: 3, path: "Arith", method: "Mul", meta: map[string]string{share.AuthKey: "bearer abc"}, payload: mustEncode(jsonC, args)}))
	add("go_request_json_server_timeout", src, "JSON request Arith.Mul seq 6 with __ServerTimeout = \"4999\" (spec V4b)",
		encode(msgSpec{ser: protocol.JSON, seq: 6, path: "Arith", method: "Mul", meta: map[string]string{share.ServerTimeout: "4999"}, payload: mustEncode(jsonC, args)}))
	add("go_request_metadata_empty_key_value", src, "MsgPack request Arith.Meta seq 9 with one metadata pair whose key and value are both empty (legal)",
		encode(msgSpec{ser: protocol.MsgPack, seq: 9, path: "Arith", method: "Meta", meta: map[string]string{"": ""}, payload: mustEncode(mpC, args)}))
	hb := mustEncode(mpC, int64(1700000000000000000))
	add("go_request_heartbeat", src, "heartbeat request seq 7: flag 0x40, MsgPack, empty path/method/metadata, payload msgpack int64 1700000000000000000 (spec V6a)",
		encode(msgSpec{heartbeat: true, ser: protocol.MsgPack, seq: 7, payload: hb}))
	add("go_response_heartbeat", src, "heartbeat echo seq 7: the request with the response bit set (spec V6b)",
		encode(msgSpec{resp: true, heartbeat: true, ser: protocol.MsgPack, seq: 7, payload: hb}))
	add("go_push_server_message", src, "server push: request+oneway, serialize 0, seq 1, path test_service_path, method test_service_method, payload \"abcde\" (spec V7)",
		encode(msgSpec{oneway: true, ser: protocol.SerializeNone, seq: 1, path: "test_service_path", method: "test_service_method", payload: []byte("abcde")}))
	add("go_request_json_oneway", src, "oneway JSON request Arith.Mul seq 4 (flag 0x20) (spec V8)",
		encode(msgSpec{oneway: true, ser: protocol.JSON, seq: 4, path: "Arith", method: "Mul", payload: mustEncode(jsonC, args)}))
	add("go_request_gzip_raw_echo", src, "gzip (compress 1) raw request Arith.Echo seq 9, 1224-byte payload; hex holds Go's gzip output, payload_hex the decompressed bytes (spec V9)",
		encode(msgSpec{compress: protocol.Gzip, ser: protocol.SerializeNone, seq: 9, path: "Arith", method: "Echo", payload: gzipPayload()}))
	add("go_response_gzip_raw_echo", src, "gzip (compress 1) raw response Arith.Echo seq 9 echoing the 1224-byte payload",
		encode(msgSpec{resp: true, compress: protocol.Gzip, ser: protocol.SerializeNone, seq: 9, path: "Arith", method: "Echo", payload: gzipPayload()}))

	for name, want := range specHex {
		found := false
		for _, v := range vectors {
			if v.Name == name {
				found = true
				if v.Hex != want {
					failf("%s differs from the spec golden vector:\n  got  %s\n  spec %s", name, v.Hex, want)
				}
			}
		}
		if !found {
			failf("spec vector %s was not produced", name)
		}
	}
	for _, name := range []string{"go_request_gzip_raw_echo", "go_response_gzip_raw_echo"} {
		for _, v := range vectors {
			if v.Name == name && !strings.Contains(v.Hex, "1f8b08000000000000ff") {
				failf("%s: gzip member header 1f8b08000000000000ff not found", name)
			}
		}
	}
}

// ---------------------------------------------------------------- live capture

// recProxy accepts one connection and forwards it to target, recording the
// bytes of each direction.
type recProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	c2s    bytes.Buffer
	s2c    bytes.Buffer
	done   chan struct{}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func startProxy(target string) (*recProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &recProxy{ln: ln, target: target, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		cc, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		sc, err := net.DialTimeout("tcp", target, 3*time.Second)
		if err != nil {
			cc.Close()
			return
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // client -> server
			defer wg.Done()
			_, _ = io.Copy(io.MultiWriter(sc, lockedWriter{&p.mu, &p.c2s}), cc)
			if tc, ok := sc.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}()
		go func() { // server -> client
			defer wg.Done()
			_, _ = io.Copy(io.MultiWriter(cc, lockedWriter{&p.mu, &p.s2c}), sc)
			cc.Close()
		}()
		wg.Wait()
		sc.Close()
		cc.Close()
	}()
	return p, nil
}

func splitFrames(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 16 {
			return out, fmt.Errorf("%d trailing bytes (short header)", len(b))
		}
		n := 16 + int(binary.BigEndian.Uint32(b[12:16]))
		if len(b) < n {
			return out, fmt.Errorf("truncated frame: need %d, have %d", n, len(b))
		}
		out = append(out, append([]byte(nil), b[:n]...))
		b = b[n:]
	}
	return out, nil
}

type liveSpec struct {
	auth     string
	ser      protocol.SerializeType
	compress protocol.CompressType
	run      func(ctx context.Context, c *client.Client) error
}

// live runs spec.run with a real Go client against a fresh real Go server
// through the recording proxy and returns the frames of each direction.
func live(spec liveSpec) (c2s, s2c [][]byte, err error) {
	s := server.NewServer()
	if spec.auth != "" {
		tok := spec.auth
		s.AuthFunc = func(ctx context.Context, req *protocol.Message, t string) error {
			if t == tok {
				return nil
			}
			return errors.New(svc.ErrInvalidToken)
		}
	}
	if err := svc.RegisterAll(s); err != nil {
		return nil, nil, err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve("tcp", "127.0.0.1:0") }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		return nil, nil, err
	case <-time.After(5 * time.Second):
		return nil, nil, errors.New("server did not start")
	}
	defer s.Close()

	p, err := startProxy(s.Address().String())
	if err != nil {
		return nil, nil, err
	}
	opt := client.DefaultOption
	opt.SerializeType = spec.ser
	opt.CompressType = spec.compress
	c := client.NewClient(opt)
	if err := c.Connect("tcp", p.ln.Addr().String()); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	runErr := spec.run(ctx, c)
	cancel()
	time.Sleep(200 * time.Millisecond) // let oneway requests / pushes pass the proxy
	c.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		return nil, nil, errors.New("proxy did not finish")
	}
	if runErr != nil {
		return nil, nil, runErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c2s, err = splitFrames(p.c2s.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("client->server: %v", err)
	}
	if s2c, err = splitFrames(p.s2c.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("server->client: %v", err)
	}
	return c2s, s2c, nil
}

type liveCase struct {
	name     string // vectors: go_live_request_<name>, go_live_response_<name>
	desc     string
	spec     liveSpec
	wantC2S  int
	wantS2C  int
	s2cNames []string // overrides the names of the server->client frames
	c2sNames []string
}

func liveVectors() {
	ctxMeta := func(ctx context.Context, m map[string]string) context.Context {
		return context.WithValue(context.WithValue(ctx, share.ReqMetaDataKey, m), share.ResMetaDataKey, map[string]string{})
	}
	call := func(path, method string, args, reply interface{}, wantErr string) func(context.Context, *client.Client) error {
		return func(ctx context.Context, c *client.Client) error {
			err := c.Call(ctx, path, method, args, reply)
			if wantErr == "" && err != nil {
				return fmt.Errorf("%s.%s: %v", path, method, err)
			}
			if wantErr != "" && (err == nil || err.Error() != wantErr) {
				return fmt.Errorf("%s.%s: error %v, want %q", path, method, err, wantErr)
			}
			return nil
		}
	}
	echoIn := []byte("hello rpcx")
	gz := gzipPayload()
	hbVal := int64(1700000000000000000)

	cases := []liveCase{
		{name: "json_mul", desc: "JSON Arith.Mul(10,20) by the Go client (first call, seq 0)",
			spec: liveSpec{ser: protocol.JSON, run: call("Arith", "Mul", &svc.Args{A: 10, B: 20}, &svc.Reply{}, "")}, wantC2S: 1, wantS2C: 1},
		{name: "msgpack_mul", desc: "MsgPack Arith.Mul(10,20) by the Go client (seq 0)",
			spec: liveSpec{ser: protocol.MsgPack, run: call("Arith", "Mul", &svc.Args{A: 10, B: 20}, &svc.Reply{}, "")}, wantC2S: 1, wantS2C: 1},
		{name: "protobuf_mul", desc: "Protobuf ProtoArith.Mul(10,20) by the Go client (seq 0)",
			spec: liveSpec{ser: protocol.ProtoBuffer, run: call("ProtoArith", "Mul", &pb.ProtoArgs{A: 10, B: 20}, &pb.ProtoReply{}, "")}, wantC2S: 1, wantS2C: 1},
		{name: "raw_echo", desc: "raw (serialize 0) Arith.Echo(\"hello rpcx\") by the Go client (seq 0)",
			spec: liveSpec{ser: protocol.SerializeNone, run: call("Arith", "Echo", &echoIn, new([]byte), "")}, wantC2S: 1, wantS2C: 1},
		{name: "protobuf_hello_say", desc: "Protobuf Hello.Say with the filled 581-byte BenchmarkMessage of benchmark.md; reply has field1=\"OK\", field2=100",
			spec: liveSpec{ser: protocol.ProtoBuffer, run: call("Hello", "Say", svc.FilledBenchmarkMessage(), &pb.BenchmarkMessage{}, "")}, wantC2S: 1, wantS2C: 1},
		{name: "json_unknown_method", desc: "JSON Arith.NoSuch: error response with __rpcx_error__ \"rpcx: can't find method NoSuch\" and empty payload",
			spec: liveSpec{ser: protocol.JSON, run: call("Arith", "NoSuch", &svc.Args{A: 1, B: 2}, &svc.Reply{}, "rpcx: can't find method NoSuch")}, wantC2S: 1, wantS2C: 1},
		{name: "json_unknown_service", desc: "JSON NoSuch.Mul: error response with __rpcx_error__ \"rpcx: can't find service NoSuch\"",
			spec: liveSpec{ser: protocol.JSON, run: call("NoSuch", "Mul", &svc.Args{A: 1, B: 2}, &svc.Reply{}, "rpcx: can't find service NoSuch")}, wantC2S: 1, wantS2C: 1},
		{name: "json_service_error_div", desc: "JSON Arith.Div(1,0): service error \"divide by zero\"; the zero reply {\"C\":0} is still serialised in the error response",
			spec: liveSpec{ser: protocol.JSON, run: call("Arith", "Div", &svc.Args{A: 1, B: 0}, &svc.Reply{}, svc.ErrDivideByZero)}, wantC2S: 1, wantS2C: 1},
		{name: "msgpack_service_error_div", desc: "MsgPack Arith.Div(1,0): service error \"divide by zero\" with the zero reply {C:0} in the payload",
			spec: liveSpec{ser: protocol.MsgPack, run: call("Arith", "Div", &svc.Args{A: 1, B: 0}, &svc.Reply{}, svc.ErrDivideByZero)}, wantC2S: 1, wantS2C: 1},
		{name: "msgpack_metadata", desc: "MsgPack Arith.Meta with one request metadata pair k=v; the response carries echo-k=v and reply {C:1}",
			spec: liveSpec{ser: protocol.MsgPack, run: func(ctx context.Context, c *client.Client) error {
				return call("Arith", "Meta", &svc.Args{A: 1, B: 2}, &svc.Reply{}, "")(ctxMeta(ctx, map[string]string{"k": "v"}), c)
			}}, wantC2S: 1, wantS2C: 1},
		{name: "msgpack_auth_refused", desc: "server with an AuthFunc: request with __AUTH=wrong is answered with error \"invalid token\" (then the server closes the connection)",
			spec: liveSpec{auth: "secret", ser: protocol.MsgPack, run: func(ctx context.Context, c *client.Client) error {
				return call("Arith", "Mul", &svc.Args{A: 1, B: 2}, &svc.Reply{}, svc.ErrInvalidToken)(ctxMeta(ctx, map[string]string{share.AuthKey: "wrong"}), c)
			}}, wantC2S: 1, wantS2C: 1},
		{name: "heartbeat", desc: "heartbeat sent by the Go client's heartbeat code path (Call with empty path and method) with the fixed msgpack int64 payload 1700000000000000000, and the server's echo",
			spec: liveSpec{ser: protocol.JSON, run: func(ctx context.Context, c *client.Client) error {
				var out int64
				if err := c.Call(ctx, "", "", &hbVal, &out); err != nil {
					return err
				}
				if out != hbVal {
					return fmt.Errorf("heartbeat echo %d != %d", out, hbVal)
				}
				return nil
			}}, wantC2S: 1, wantS2C: 1},
		{name: "json_oneway", desc: "oneway JSON Arith.Mul (Call with a nil reply): flag 0x20; the server sends nothing back",
			spec: liveSpec{ser: protocol.JSON, run: call("Arith", "Mul", &svc.Args{A: 10, B: 20}, nil, "")}, wantC2S: 1, wantS2C: 0},
		{name: "json_push", desc: "JSON Arith.Push{Count:1,Data:\"hello\"}: the server first pushes one message (request+oneway, serialize 0, seq 1 = first push of the server, path Push, method Data, payload \"hello\"), then answers {\"C\":1}",
			spec:    liveSpec{ser: protocol.JSON, run: call("Arith", "Push", &svc.PushArgs{Count: 1, Data: "hello"}, &svc.Reply{}, "")},
			wantC2S: 1, wantS2C: 2, s2cNames: []string{"go_live_push_server_message", "go_live_response_json_push"}},
		{name: "gzip_raw_echo", desc: "raw Arith.Echo of 1224 bytes with Option.CompressType gzip: the request payload is gzip'd (> 1024 bytes) and so is the response; payload_hex is decompressed",
			spec: liveSpec{ser: protocol.SerializeNone, compress: protocol.Gzip, run: call("Arith", "Echo", &gz, new([]byte), "")}, wantC2S: 1, wantS2C: 1},
	}

	for _, lc := range cases {
		c2s, s2c, err := live(lc.spec)
		if err != nil {
			failf("live %s: %v", lc.name, err)
			continue
		}
		if len(c2s) != lc.wantC2S || len(s2c) != lc.wantS2C {
			failf("live %s: %d client->server and %d server->client frames, want %d and %d", lc.name, len(c2s), len(s2c), lc.wantC2S, lc.wantS2C)
			continue
		}
		for i, f := range c2s {
			name := "go_live_request_" + lc.name
			if i < len(lc.c2sNames) {
				name = lc.c2sNames[i]
			}
			add(name, "live", "Go client -> Go server, bytes recorded on loopback: "+lc.desc+" (request)", f)
		}
		for i, f := range s2c {
			name := "go_live_response_" + lc.name
			if i < len(lc.s2cNames) {
				name = lc.s2cNames[i]
			}
			dir := "(response)"
			if strings.Contains(name, "push_server_message") {
				dir = "(server push)"
			}
			add(name, "live", "Go server -> Go client, bytes recorded on loopback: "+lc.desc+" "+dir, f)
		}
	}
}

func main() {
	out := flag.String("out", "../vectors", "directory to write the vectors to (its go_*.json files are replaced)")
	verbose := flag.Bool("v", false, "rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)

	encodedVectors()
	liveVectors()

	// live frames must agree with the encoder where both exist
	byName := map[string]vector{}
	for _, v := range vectors {
		byName[v.Name] = v
	}
	if m := byName["go_live_request_msgpack_mul"]; m.Hex != byName["go_request_msgpack_mul"].Hex {
		failf("live msgpack Mul request differs from the encoded one:\n  live   %s\n  encode %s", m.Hex, byName["go_request_msgpack_mul"].Hex)
	}
	if m := byName["go_live_response_msgpack_mul"]; m.Hex != byName["go_response_msgpack_mul"].Hex {
		failf("live msgpack Mul response differs from the encoded one")
	}
	if failed {
		os.Exit(1)
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "capture:", err)
		os.Exit(1)
	}
	old, _ := filepath.Glob(filepath.Join(*out, "go_*.json"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	sort.Slice(vectors, func(i, j int) bool { return vectors[i].Name < vectors[j].Name })
	for _, v := range vectors {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			fmt.Fprintln(os.Stderr, "capture:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(*out, v.Name+".json"), buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "capture:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("capture: wrote %d vectors to %s\n", len(vectors), *out)
}
