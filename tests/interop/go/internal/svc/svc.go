// Package svc holds the services, argument types and small helpers shared by
// the interop binaries (goserver, goclient, capture, benchserver).
//
// The services defined here are the interop contract: a Rust server that wants
// to be checked with cmd/goclient must expose the same service paths, method
// names, argument shapes and error texts (see tests/interop/README.md).
package svc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/smallnest/rpcx/log"
	"github.com/smallnest/rpcx/server"
	"github.com/smallnest/rpcx/share"

	"rpcx-interop/pb"
)

// Args is the argument of Arith.Mul/Add/Div. Go field names are the
// MsgPack/JSON keys ("A", "B").
type Args struct {
	A int
	B int
}

// Reply is the reply of most Arith methods (key "C").
type Reply struct {
	C int
}

// SleepArgs is the argument of Arith.Sleep.
type SleepArgs struct {
	Ms int
}

// PushArgs is the argument of Arith.Push.
type PushArgs struct {
	Count int
	Data  string
}

// Error texts used by the services (compared exactly by the client checks).
const (
	ErrDivideByZero = "divide by zero"
	ErrInvalidToken = "invalid token"
)

// MaxPushCount bounds Arith.Push so a bad request cannot make the server loop forever.
const MaxPushCount = 10000

// MaxSleepMs bounds Arith.Sleep.
const MaxSleepMs = 60000

// Arith is the main interop service (registered as "Arith").
type Arith struct {
	// Server is used by Push to send server messages; may be nil (Push then fails).
	Server *server.Server
}

// Mul multiplies.
func (t *Arith) Mul(ctx context.Context, args *Args, reply *Reply) error {
	reply.C = args.A * args.B
	return nil
}

// Add adds.
func (t *Arith) Add(ctx context.Context, args *Args, reply *Reply) error {
	reply.C = args.A + args.B
	return nil
}

// Div divides; B == 0 returns the error "divide by zero" (the zero reply is
// still serialised by the Go server).
func (t *Arith) Div(ctx context.Context, args *Args, reply *Reply) error {
	if args.B == 0 {
		return errors.New(ErrDivideByZero)
	}
	reply.C = args.A / args.B
	return nil
}

// Echo returns the argument bytes unchanged (raw codec: the payload itself;
// msgpack: bin; JSON: base64 string).
func (t *Arith) Echo(ctx context.Context, args *[]byte, reply *[]byte) error {
	*reply = append([]byte(nil), (*args)...)
	return nil
}

// Sleep sleeps args.Ms milliseconds or until the context is done (which
// happens when the client sent __ServerTimeout); then returns ctx.Err().
func (t *Arith) Sleep(ctx context.Context, args *SleepArgs, reply *Reply) error {
	ms := args.Ms
	if ms < 0 {
		ms = 0
	}
	if ms > MaxSleepMs {
		ms = MaxSleepMs
	}
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		reply.C = args.Ms
		return nil
	case <-ctx.Done():
		return errors.New(ctx.Err().Error())
	}
}

// Meta echoes every request metadata pair k=v as response metadata
// "echo-"+k = v and replies with the number of request metadata keys.
func (t *Arith) Meta(ctx context.Context, args *Args, reply *Reply) error {
	req, _ := ctx.Value(share.ReqMetaDataKey).(map[string]string)
	res, _ := ctx.Value(share.ResMetaDataKey).(map[string]string)
	if res == nil {
		return errors.New("no response metadata map in context")
	}
	for k, v := range req {
		res["echo-"+k] = v
	}
	reply.C = len(req)
	return nil
}

// Push sends Count server messages (path "Push", method "Data", payload =
// Data bytes, serialize type none) to the calling connection, then replies
// C = Count.
func (t *Arith) Push(ctx context.Context, args *PushArgs, reply *Reply) error {
	if t.Server == nil {
		return errors.New("push not available")
	}
	conn, ok := ctx.Value(server.RemoteConnContextKey).(net.Conn)
	if !ok || conn == nil {
		return errors.New("no client connection in context")
	}
	if args.Count < 0 || args.Count > MaxPushCount {
		return fmt.Errorf("count out of range 0..%d", MaxPushCount)
	}
	for i := 0; i < args.Count; i++ {
		if err := t.Server.SendMessage(conn, "Push", "Data", nil, []byte(args.Data)); err != nil {
			return err
		}
	}
	reply.C = args.Count
	return nil
}

// ProtoArith is the protobuf variant of Arith (registered as "ProtoArith").
type ProtoArith struct{}

// Mul multiplies.
func (t *ProtoArith) Mul(ctx context.Context, args *pb.ProtoArgs, reply *pb.ProtoReply) error {
	reply.C = args.A * args.B
	return nil
}

// Add adds.
func (t *ProtoArith) Add(ctx context.Context, args *pb.ProtoArgs, reply *pb.ProtoReply) error {
	reply.C = args.A + args.B
	return nil
}

// Div divides; B == 0 returns "divide by zero".
func (t *ProtoArith) Div(ctx context.Context, args *pb.ProtoArgs, reply *pb.ProtoReply) error {
	if args.B == 0 {
		return errors.New(ErrDivideByZero)
	}
	reply.C = args.A / args.B
	return nil
}

// Hello is the benchmark service (registered as "Hello").
type Hello struct{}

// Say sets field1 = "OK", field2 = 100 on the received message and returns it.
func (t *Hello) Say(ctx context.Context, args *pb.BenchmarkMessage, reply *pb.BenchmarkMessage) error {
	s := "OK"
	var i int32 = 100
	args.Field1 = &s
	args.Field2 = &i
	copyBenchmarkMessage(reply, args)
	return nil
}

// copyBenchmarkMessage shallow-copies every field (the generated struct must not
// be copied as a whole because of its internal state).
func copyBenchmarkMessage(dst, src *pb.BenchmarkMessage) {
	dst.Field1 = src.Field1
	dst.Field9 = src.Field9
	dst.Field18 = src.Field18
	dst.Field80 = src.Field80
	dst.Field81 = src.Field81
	dst.Field2 = src.Field2
	dst.Field3 = src.Field3
	dst.Field280 = src.Field280
	dst.Field6 = src.Field6
	dst.Field22 = src.Field22
	dst.Field4 = src.Field4
	dst.Field5 = src.Field5
	dst.Field59 = src.Field59
	dst.Field7 = src.Field7
	dst.Field16 = src.Field16
	dst.Field130 = src.Field130
	dst.Field12 = src.Field12
	dst.Field17 = src.Field17
	dst.Field13 = src.Field13
	dst.Field14 = src.Field14
	dst.Field104 = src.Field104
	dst.Field100 = src.Field100
	dst.Field101 = src.Field101
	dst.Field102 = src.Field102
	dst.Field103 = src.Field103
	dst.Field29 = src.Field29
	dst.Field30 = src.Field30
	dst.Field60 = src.Field60
	dst.Field271 = src.Field271
	dst.Field272 = src.Field272
	dst.Field150 = src.Field150
	dst.Field23 = src.Field23
	dst.Field24 = src.Field24
	dst.Field25 = src.Field25
	dst.Field78 = src.Field78
	dst.Field67 = src.Field67
	dst.Field68 = src.Field68
	dst.Field128 = src.Field128
	dst.Field129 = src.Field129
	dst.Field131 = src.Field131
}

// RegisterAll registers Arith, ProtoArith and Hello on s.
func RegisterAll(s *server.Server) error {
	if err := s.RegisterName("Arith", &Arith{Server: s}, ""); err != nil {
		return err
	}
	if err := s.RegisterName("ProtoArith", new(ProtoArith), ""); err != nil {
		return err
	}
	return s.RegisterName("Hello", new(Hello), "")
}

// SplitAddr splits "network@address"; without '@' the network is tcp.
func SplitAddr(s string) (network, address string) {
	if i := strings.Index(s, "@"); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "tcp", s
}

// SetupLogging silences rpcx's logger unless verbose, in which case it logs to stderr
// (rpcx's default logger writes to stdout, which would corrupt the LISTENING line).
func SetupLogging(verbose bool) {
	if verbose {
		log.SetLogger(log.NewDefaultLogger(os.Stderr, "", 0, log.LvDebug))
	} else {
		log.SetDummyLogger()
	}
}

// FilledBenchmarkMessage returns the "filled request" of benchmark.md (581 bytes encoded).
func FilledBenchmarkMessage() *pb.BenchmarkMessage {
	s := "许多往事在眼前一幕一幕，变的那麼模糊"
	var i32 int32 = 100000
	var i64 int64 = 100000
	b := true
	return &pb.BenchmarkMessage{
		Field1: &s, Field9: &s, Field18: &s, Field80: &b, Field81: &b,
		Field2: &i32, Field3: &i32, Field280: &i32, Field6: &i32, Field22: &i64,
		Field4: &s, Field59: &b, Field7: &s, Field16: &i32, Field130: &i32,
		Field12: &b, Field17: &b, Field13: &b, Field14: &b, Field104: &i32,
		Field100: &i32, Field101: &i32, Field102: &s, Field103: &s, Field29: &i32,
		Field30: &b, Field60: &i32, Field271: &i32, Field272: &i32, Field150: &i32,
		Field23: &i32, Field24: &b, Field25: &i32, Field78: &b, Field67: &i32,
		Field68: &i32, Field128: &i32, Field129: &s, Field131: &i32,
	}
}
