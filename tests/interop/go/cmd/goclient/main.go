// Command goclient runs scripted interop checks with the real Go rpcx client
// against any rpcx server that implements the interop services (see
// tests/interop/README.md). Each case prints one line:
//
//	PASS <case>
//	FAIL <case>: <reason>
//	SKIP <case>: <reason>
//
// followed by a summary line "<codec>: N passed, N failed, N skipped".
// The exit status is 1 if any case failed, 2 on usage errors.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/share"

	"rpcx-interop/internal/svc"
	"rpcx-interop/pb"
)

var allCases = []string{
	"plain", "gzip", "snappy", "metadata", "auth_ok", "auth_refused", "service_error",
	"unknown_service", "unknown_method", "oneway", "heartbeat", "timeout",
	"concurrent", "push",
}

// errSkip marks a case that does not apply.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

func skip(format string, a ...interface{}) error { return errSkip{fmt.Sprintf(format, a...)} }

// recorder is a client plugin that observes every frame the Go client writes
// and reads, and the connection life cycle.
type recorder struct {
	mu sync.Mutex

	connsCreated atomic.Int64
	connsClosed  atomic.Int64
	decoded      atomic.Int64

	hbSent      map[uint64][]byte // heartbeat seq -> payload
	hbOK        int
	hbBad       []string
	reqCompress map[string]protocol.CompressType // "path.method" -> last request compress type
	resCompress map[string]protocol.CompressType // "path.method" -> last response compress type
}

func newRecorder() *recorder {
	return &recorder{
		hbSent:      map[uint64][]byte{},
		reqCompress: map[string]protocol.CompressType{},
		resCompress: map[string]protocol.CompressType{},
	}
}

func (r *recorder) ClientConnected(c net.Conn) (net.Conn, error) {
	r.connsCreated.Add(1)
	return c, nil
}

func (r *recorder) ClientConnectionClose(net.Conn) error {
	r.connsClosed.Add(1)
	return nil
}

func (r *recorder) ClientBeforeEncode(m *protocol.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.IsHeartbeat() {
		r.hbSent[m.Seq()] = append([]byte(nil), m.Payload...)
		return nil
	}
	r.reqCompress[m.ServicePath+"."+m.ServiceMethod] = m.CompressType()
	return nil
}

func (r *recorder) ClientAfterDecode(m *protocol.Message) error {
	r.decoded.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.IsHeartbeat() {
		sent, ok := r.hbSent[m.Seq()]
		delete(r.hbSent, m.Seq())
		switch {
		case !ok:
			r.hbBad = append(r.hbBad, fmt.Sprintf("heartbeat reply with unknown seq %d", m.Seq()))
		case m.MessageType() != protocol.Response:
			r.hbBad = append(r.hbBad, fmt.Sprintf("heartbeat reply seq %d is not a response", m.Seq()))
		case m.MessageStatusType() != protocol.Normal:
			r.hbBad = append(r.hbBad, fmt.Sprintf("heartbeat reply seq %d has error status: %q", m.Seq(), m.Metadata[protocol.ServiceError]))
		case !bytes.Equal(sent, m.Payload):
			r.hbBad = append(r.hbBad, fmt.Sprintf("heartbeat reply seq %d payload %x != sent %x", m.Seq(), m.Payload, sent))
		default:
			r.hbOK++
		}
		return nil
	}
	if m.MessageType() == protocol.Response {
		r.resCompress[m.ServicePath+"."+m.ServiceMethod] = m.CompressType()
	}
	return nil
}

type runner struct {
	addr    string
	codec   string
	auth    string
	opt     client.Option
	verbose bool
}

func (r *runner) logf(format string, a ...interface{}) {
	if r.verbose {
		fmt.Fprintf(os.Stderr, "goclient: "+format+"\n", a...)
	}
}

// arithLike reports whether the codec can carry the struct-based Arith methods.
func (r *runner) arithLike() bool { return r.codec == "json" || r.codec == "msgpack" }

// path is the service path the codec's basic calls go to.
func (r *runner) path() string {
	if r.codec == "protobuf" {
		return "ProtoArith"
	}
	return "Arith"
}

type xopts struct {
	path string
	opt  *client.Option
	auth *string
	rec  *recorder
	push chan *protocol.Message
}

func (r *runner) newX(o xopts) (client.XClient, error) {
	if o.path == "" {
		o.path = r.path()
	}
	opt := r.opt
	if o.opt != nil {
		opt = *o.opt
	}
	d, err := client.NewPeer2PeerDiscovery(r.addr, "")
	if err != nil {
		return nil, err
	}
	var x client.XClient
	if o.push != nil {
		x = client.NewBidirectionalXClient(o.path, client.Failfast, client.RandomSelect, d, opt, o.push)
	} else {
		x = client.NewXClient(o.path, client.Failfast, client.RandomSelect, d, opt)
	}
	if o.rec != nil {
		x.GetPlugins().Add(o.rec)
	}
	token := r.auth
	if o.auth != nil {
		token = *o.auth
	}
	if token != "" {
		x.Auth(token)
	}
	return x, nil
}

// roundtrip makes one basic call derived from i on x and verifies the result:
// Mul(i, 3) for the arith codecs, Echo of a payload derived from i for raw.
func (r *runner) roundtrip(ctx context.Context, x client.XClient, i int) error {
	switch r.codec {
	case "json", "msgpack":
		var rep svc.Reply
		if err := x.Call(ctx, "Mul", &svc.Args{A: i, B: 3}, &rep); err != nil {
			return fmt.Errorf("Arith.Mul(%d,3): %v", i, err)
		}
		if rep.C != i*3 {
			return fmt.Errorf("Arith.Mul(%d,3) = %d, want %d", i, rep.C, i*3)
		}
	case "protobuf":
		rep := &pb.ProtoReply{}
		if err := x.Call(ctx, "Mul", &pb.ProtoArgs{A: int32(i), B: 3}, rep); err != nil {
			return fmt.Errorf("ProtoArith.Mul(%d,3): %v", i, err)
		}
		if rep.C != int32(i*3) {
			return fmt.Errorf("ProtoArith.Mul(%d,3) = %d, want %d", i, rep.C, i*3)
		}
	case "raw":
		in := []byte(fmt.Sprintf("echo-%d", i))
		var out []byte
		if err := x.Call(ctx, "Echo", &in, &out); err != nil {
			return fmt.Errorf("Arith.Echo(%q): %v", in, err)
		}
		if !bytes.Equal(in, out) {
			return fmt.Errorf("Arith.Echo(%q) = %q", in, out)
		}
	}
	return nil
}

// basicArgs returns args valid for the codec (used for unknown service/method and oneway).
func (r *runner) basicArgs() interface{} {
	switch r.codec {
	case "protobuf":
		return &pb.ProtoArgs{A: 2, B: 3}
	case "raw":
		b := []byte("raw")
		return &b
	default:
		return &svc.Args{A: 2, B: 3}
	}
}

func (r *runner) basicReply() interface{} {
	switch r.codec {
	case "protobuf":
		return &pb.ProtoReply{}
	case "raw":
		return new([]byte)
	default:
		return &svc.Reply{}
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func isServiceError(err error) bool {
	var se client.ServiceError
	return errors.As(err, &se) && se.IsServiceError()
}

// ---------------------------------------------------------------- cases

func (r *runner) casePlain(ctx context.Context) error {
	x, err := r.newX(xopts{})
	if err != nil {
		return err
	}
	defer x.Close()
	switch r.codec {
	case "json", "msgpack":
		for _, c := range []struct {
			m       string
			a, b, c int
		}{{"Mul", 7, 8, 56}, {"Add", 7, 8, 15}, {"Add", -300, 5, -295}, {"Mul", 100000, 100000, 10000000000}} {
			var rep svc.Reply
			if err := x.Call(ctx, c.m, &svc.Args{A: c.a, B: c.b}, &rep); err != nil {
				return fmt.Errorf("Arith.%s(%d,%d): %v", c.m, c.a, c.b, err)
			}
			if rep.C != c.c {
				return fmt.Errorf("Arith.%s(%d,%d) = %d, want %d", c.m, c.a, c.b, rep.C, c.c)
			}
		}
	case "protobuf":
		for _, c := range []struct {
			m       string
			a, b, c int32
		}{{"Mul", 7, 8, 56}, {"Add", 7, 8, 15}, {"Add", -300, 5, -295}} {
			rep := &pb.ProtoReply{}
			if err := x.Call(ctx, c.m, &pb.ProtoArgs{A: c.a, B: c.b}, rep); err != nil {
				return fmt.Errorf("ProtoArith.%s(%d,%d): %v", c.m, c.a, c.b, err)
			}
			if rep.C != c.c {
				return fmt.Errorf("ProtoArith.%s(%d,%d) = %d, want %d", c.m, c.a, c.b, rep.C, c.c)
			}
		}
	case "raw":
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		for _, in := range [][]byte{[]byte("hello"), all} {
			var out []byte
			if err := x.Call(ctx, "Echo", &in, &out); err != nil {
				return fmt.Errorf("Arith.Echo(%d bytes): %v", len(in), err)
			}
			if !bytes.Equal(in, out) {
				return fmt.Errorf("Arith.Echo(%d bytes) returned %d different bytes", len(in), len(out))
			}
		}
	}
	return nil
}

// caseCompress sends a 4 KiB call compressed with ct (gzip, or snappy at
// svc.Snappy with Go's own protocol.SnappyCompressor): the request and the
// reply must both carry ct, and a small call on the same client goes
// uncompressed both ways.
func (r *runner) caseCompress(ctx context.Context, ct protocol.CompressType, name string) error {
	opt := r.opt
	opt.CompressType = ct
	rec := newRecorder()
	path := r.path()
	if r.codec == "protobuf" {
		path = "Hello"
	}
	x, err := r.newX(xopts{path: path, opt: &opt, rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()

	big := make([]byte, 4096)
	for i := range big {
		big[i] = "rpcx-cmpr-payload-"[i%18] + byte(i/18%3)
	}
	method := "Echo"
	switch r.codec {
	case "json", "msgpack", "raw":
		var out []byte
		if err := x.Call(ctx, "Echo", &big, &out); err != nil {
			return fmt.Errorf("%s.Echo(4 KiB, %s): %v", path, name, err)
		}
		if !bytes.Equal(big, out) {
			return fmt.Errorf("%s.Echo(4 KiB, %s) returned %d different bytes", path, name, len(out))
		}
	case "protobuf":
		method = "Say"
		m := svc.FilledBenchmarkMessage()
		s4 := string(big)
		m.Field4 = &s4
		out := &pb.BenchmarkMessage{}
		if err := x.Call(ctx, "Say", m, out); err != nil {
			return fmt.Errorf("Hello.Say(4 KiB field4, %s): %v", name, err)
		}
		if out.GetField1() != "OK" || out.GetField2() != 100 || out.GetField4() != s4 || out.GetField3() != 100000 {
			return fmt.Errorf("Hello.Say(%s) reply wrong: field1=%q field2=%d field3=%d len(field4)=%d",
				name, out.GetField1(), out.GetField2(), out.GetField3(), len(out.GetField4()))
		}
	}
	key := path + "." + method
	rec.mu.Lock()
	rq, rs := rec.reqCompress[key], rec.resCompress[key]
	rec.mu.Unlock()
	if rq != ct {
		return fmt.Errorf("request %s was not %s-compressed by the Go client (compress=%d)", key, name, rq)
	}
	if rs != ct {
		return fmt.Errorf("response of %s (> 1 KiB to a %s request) has compress type %d, want %d", key, name, rs, ct)
	}
	// a small call on the same client is sent and answered uncompressed
	if r.codec != "protobuf" {
		if err := r.roundtrip(ctx, x, 5); err != nil {
			return fmt.Errorf("small call on %s client: %v", name, err)
		}
		small := r.path() + "." + map[bool]string{true: "Echo", false: "Mul"}[r.codec == "raw"]
		rec.mu.Lock()
		rq, rs = rec.reqCompress[small], rec.resCompress[small]
		rec.mu.Unlock()
		if rq != protocol.None || rs != protocol.None {
			return fmt.Errorf("small call %s: request compress %d, response compress %d, want 0/0", small, rq, rs)
		}
	}
	return nil
}

func (r *runner) caseMetadata(ctx context.Context) error {
	if !r.arithLike() {
		return skip("Arith.Meta takes struct args (json/msgpack only)")
	}
	x, err := r.newX(xopts{})
	if err != nil {
		return err
	}
	defer x.Close()
	sent := map[string]string{"k": "v", "trace-id": "abc-123", "empty": "", "ключ": "значение"}
	req := map[string]string{}
	for k, v := range sent {
		req[k] = v
	}
	res := map[string]string{}
	mctx := context.WithValue(context.WithValue(ctx, share.ReqMetaDataKey, req), share.ResMetaDataKey, res)
	var rep svc.Reply
	if err := x.Call(mctx, "Meta", &svc.Args{A: 1, B: 2}, &rep); err != nil {
		return fmt.Errorf("Arith.Meta: %v", err)
	}
	want := len(sent)
	if r.auth != "" {
		want++ // __AUTH added by XClient.Auth
	}
	if rep.C != want {
		return fmt.Errorf("Arith.Meta reply C = %d request metadata keys, want %d", rep.C, want)
	}
	for k, v := range sent {
		got, ok := res["echo-"+k]
		if !ok || got != v {
			return fmt.Errorf("response metadata echo-%s = %q (present %v), want %q; got %v", k, got, ok, v, res)
		}
	}
	if r.auth != "" && res["echo-"+share.AuthKey] != r.auth {
		return fmt.Errorf("response metadata echo-__AUTH = %q, want the token", res["echo-"+share.AuthKey])
	}
	if _, ok := res[protocol.ServiceError]; ok {
		return fmt.Errorf("successful response carries %s", protocol.ServiceError)
	}
	return nil
}

func (r *runner) caseAuthOK(ctx context.Context) error {
	if r.auth == "" {
		return skip("no -auth token given")
	}
	x, err := r.newX(xopts{})
	if err != nil {
		return err
	}
	defer x.Close()
	for i := 0; i < 3; i++ {
		if err := r.roundtrip(ctx, x, i); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) caseAuthRefused(ctx context.Context) error {
	if r.auth == "" {
		return skip("no -auth token given")
	}
	for _, tok := range []string{r.auth + "-wrong", ""} {
		t := tok
		x, err := r.newX(xopts{auth: &t})
		if err != nil {
			return err
		}
		err = r.roundtrip(ctx, x, 1)
		x.Close()
		if err == nil {
			return fmt.Errorf("call with token %q succeeded, want error", t)
		}
		// roundtrip wraps the error text: "<call>: <err>"
		if !strings.HasSuffix(err.Error(), ": "+svc.ErrInvalidToken) {
			return fmt.Errorf("token %q: error %q, want exactly %q", t, err.Error(), svc.ErrInvalidToken)
		}
	}
	// exact text and error class with a direct call
	bad := r.auth + "-wrong"
	x, err := r.newX(xopts{auth: &bad})
	if err != nil {
		return err
	}
	defer x.Close()
	err = x.Call(ctx, r.firstMethod(), r.basicArgs(), r.basicReply())
	if errText(err) != svc.ErrInvalidToken {
		return fmt.Errorf("wrong token: error %q, want %q", errText(err), svc.ErrInvalidToken)
	}
	if !isServiceError(err) {
		return fmt.Errorf("wrong token: error %q is not a ServiceError (no __rpcx_error__ / status?)", errText(err))
	}
	return nil
}

func (r *runner) firstMethod() string {
	if r.codec == "raw" {
		return "Echo"
	}
	return "Mul"
}

func (r *runner) caseServiceError(ctx context.Context) error {
	if r.codec == "raw" {
		return skip("Div takes struct args (no raw variant)")
	}
	rec := newRecorder()
	x, err := r.newX(xopts{rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()
	if r.codec == "protobuf" {
		rep := &pb.ProtoReply{C: -1}
		err = x.Call(ctx, "Div", &pb.ProtoArgs{A: 1, B: 0}, rep)
		if errText(err) != svc.ErrDivideByZero {
			return fmt.Errorf("ProtoArith.Div(1,0): error %q, want %q", errText(err), svc.ErrDivideByZero)
		}
		ok := &pb.ProtoReply{}
		if err := x.Call(ctx, "Div", &pb.ProtoArgs{A: 7, B: 2}, ok); err != nil || ok.C != 3 {
			return fmt.Errorf("ProtoArith.Div(7,2) = %d, %v; want 3", ok.C, err)
		}
	} else {
		rep := svc.Reply{C: -1}
		err = x.Call(ctx, "Div", &svc.Args{A: 1, B: 0}, &rep)
		if errText(err) != svc.ErrDivideByZero {
			return fmt.Errorf("Arith.Div(1,0): error %q, want %q", errText(err), svc.ErrDivideByZero)
		}
		if rep.C != 0 {
			return fmt.Errorf("Arith.Div(1,0): reply C = %d, want 0 (the zero reply must still be serialised in the error response)", rep.C)
		}
		var ok svc.Reply
		if err := x.Call(ctx, "Div", &svc.Args{A: 7, B: 2}, &ok); err != nil || ok.C != 3 {
			return fmt.Errorf("Arith.Div(7,2) = %d, %v; want 3", ok.C, err)
		}
	}
	if !isServiceError(err) {
		return fmt.Errorf("error %q is not a ServiceError", errText(err))
	}
	if n := rec.connsCreated.Load(); n != 1 {
		return fmt.Errorf("%d connections were made, want 1 (a service error must not close the connection)", n)
	}
	return nil
}

func (r *runner) caseUnknownService(ctx context.Context) error {
	x, err := r.newX(xopts{path: "NoSuch"})
	if err != nil {
		return err
	}
	defer x.Close()
	err = x.Call(ctx, r.firstMethod(), r.basicArgs(), r.basicReply())
	want := "rpcx: can't find service NoSuch"
	if errText(err) != want {
		return fmt.Errorf("error %q, want %q", errText(err), want)
	}
	if !isServiceError(err) {
		return fmt.Errorf("error %q is not a ServiceError", errText(err))
	}
	return nil
}

func (r *runner) caseUnknownMethod(ctx context.Context) error {
	rec := newRecorder()
	x, err := r.newX(xopts{rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()
	err = x.Call(ctx, "NoSuch", r.basicArgs(), r.basicReply())
	want := "rpcx: can't find method NoSuch"
	if errText(err) != want {
		return fmt.Errorf("error %q, want %q", errText(err), want)
	}
	if !isServiceError(err) {
		return fmt.Errorf("error %q is not a ServiceError", errText(err))
	}
	if err := r.roundtrip(ctx, x, 9); err != nil {
		return fmt.Errorf("call after the error: %v", err)
	}
	if n := rec.connsCreated.Load(); n != 1 {
		return fmt.Errorf("%d connections were made, want 1 (an unknown method must not close the connection)", n)
	}
	return nil
}

func (r *runner) caseOneway(ctx context.Context) error {
	rec := newRecorder()
	x, err := r.newX(xopts{rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()
	m := r.firstMethod()
	if err := x.Oneshot(ctx, m, r.basicArgs()); err != nil {
		return fmt.Errorf("Oneshot(%s): %v", m, err)
	}
	if err := x.Call(ctx, m, r.basicArgs(), nil); err != nil {
		return fmt.Errorf("Call(%s, reply=nil): %v", m, err)
	}
	// oneway requests that fail on the server must not be answered either
	if err := x.Oneshot(ctx, "NoSuch", r.basicArgs()); err != nil {
		return fmt.Errorf("Oneshot(NoSuch): %v", err)
	}
	if r.codec != "raw" {
		div := interface{}(&svc.Args{A: 1, B: 0})
		if r.codec == "protobuf" {
			div = &pb.ProtoArgs{A: 1, B: 0}
		}
		if err := x.Oneshot(ctx, "Div", div); err != nil {
			return fmt.Errorf("Oneshot(Div by 0): %v", err)
		}
	}
	if err := r.roundtrip(ctx, x, 11); err != nil {
		return fmt.Errorf("normal call after oneway calls: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := rec.decoded.Load(); n != 1 {
		return fmt.Errorf("client received %d frames, want exactly 1 (oneway requests must never be answered)", n)
	}
	return nil
}

func (r *runner) caseHeartbeat(ctx context.Context) error {
	opt := r.opt
	opt.Heartbeat = true
	opt.HeartbeatInterval = 100 * time.Millisecond
	opt.MaxWaitForHeartbeat = 2 * time.Second
	rec := newRecorder()
	x, err := r.newX(xopts{opt: &opt, rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()
	deadline := time.Now().Add(1200 * time.Millisecond)
	for i := 0; time.Now().Before(deadline) && i < 1000; i++ {
		if err := r.roundtrip(ctx, x, i); err != nil {
			return fmt.Errorf("call %d with heartbeats on: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rec.mu.Lock()
	ok, bad := rec.hbOK, append([]string(nil), rec.hbBad...)
	rec.mu.Unlock()
	if len(bad) > 0 {
		return fmt.Errorf("bad heartbeat replies: %s", strings.Join(bad, "; "))
	}
	if ok < 5 {
		return fmt.Errorf("only %d heartbeat echoes in 1.2 s with a 100 ms interval, want >= 5", ok)
	}
	if c, cl := rec.connsCreated.Load(), rec.connsClosed.Load(); c != 1 || cl != 0 {
		return fmt.Errorf("connections created %d, closed %d; want 1 and 0 (heartbeat failure closes the connection)", c, cl)
	}
	return nil
}

func (r *runner) caseTimeout(ctx context.Context) error {
	if !r.arithLike() {
		return skip("Arith.Sleep takes struct args (json/msgpack only)")
	}
	rec := newRecorder()
	x, err := r.newX(xopts{rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()
	// a short sleep with a generous deadline succeeds (exercises __ServerTimeout)
	{
		tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var rep svc.Reply
		err := x.Call(tctx, "Sleep", &svc.SleepArgs{Ms: 20}, &rep)
		cancel()
		if err != nil || rep.C != 20 {
			return fmt.Errorf("Sleep{20} with a 3 s deadline = %d, %v; want 20, nil", rep.C, err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var rep svc.Reply
	err = x.Call(tctx, "Sleep", &svc.SleepArgs{Ms: 2000}, &rep)
	el := time.Since(start)
	if err == nil {
		return fmt.Errorf("Sleep{2000} with a 200 ms deadline succeeded after %v", el)
	}
	if el > time.Second {
		return fmt.Errorf("Sleep{2000} with a 200 ms deadline failed only after %v: %v", el, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") && !strings.Contains(err.Error(), "timeout") {
		return fmt.Errorf("Sleep{2000} with a 200 ms deadline: error %q is not a deadline/timeout error", err)
	}
	r.logf("timeout error after %v: %q (ServiceError from the server: %v)", el, err.Error(), isServiceError(err))
	if err := r.roundtrip(ctx, x, 4); err != nil {
		return fmt.Errorf("call after the timeout: %v", err)
	}
	if n := rec.connsCreated.Load(); n != 1 {
		return fmt.Errorf("%d connections were made, want 1", n)
	}
	return nil
}

func (r *runner) caseConcurrent(ctx context.Context) error {
	rec := newRecorder()
	x, err := r.newX(xopts{rec: rec})
	if err != nil {
		return err
	}
	defer x.Close()
	// connect first so that all calls share the one connection
	if err := r.roundtrip(ctx, x, 0); err != nil {
		return err
	}
	const n = 1000
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := r.roundtrip(cctx, x, i); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}(i)
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d concurrent calls failed; first: %v", f, n, firstErr.Load())
	}
	if c := rec.connsCreated.Load(); c != 1 {
		return fmt.Errorf("%d connections were made, want 1", c)
	}
	return nil
}

func (r *runner) casePush(ctx context.Context) error {
	if !r.arithLike() {
		return skip("Arith.Push takes struct args (json/msgpack only)")
	}
	ch := make(chan *protocol.Message, 16)
	x, err := r.newX(xopts{push: ch})
	if err != nil {
		return err
	}
	defer x.Close()
	var rep svc.Reply
	if err := x.Call(ctx, "Push", &svc.PushArgs{Count: 3, Data: "hello"}, &rep); err != nil {
		return fmt.Errorf("Arith.Push: %v", err)
	}
	if rep.C != 3 {
		return fmt.Errorf("Arith.Push reply C = %d, want 3", rep.C)
	}
	timer := time.NewTimer(3 * time.Second)
	defer timer.Stop()
	for i := 0; i < 3; i++ {
		select {
		case m := <-ch:
			if m.MessageStatusType() == protocol.Error {
				return fmt.Errorf("push %d: connection error message: %v", i, m.Metadata)
			}
			if m.ServicePath != "Push" || m.ServiceMethod != "Data" || string(m.Payload) != "hello" {
				return fmt.Errorf("push %d: path %q method %q payload %q, want Push/Data/hello", i, m.ServicePath, m.ServiceMethod, m.Payload)
			}
			if m.MessageType() != protocol.Request || !m.IsOneway() || m.IsHeartbeat() {
				return fmt.Errorf("push %d: flags type=%d oneway=%v heartbeat=%v, want request+oneway", i, m.MessageType(), m.IsOneway(), m.IsHeartbeat())
			}
			if m.SerializeType() != protocol.SerializeNone {
				return fmt.Errorf("push %d: serialize type %d, want 0", i, m.SerializeType())
			}
		case <-timer.C:
			return fmt.Errorf("received only %d of 3 server messages within 3 s", i)
		}
	}
	select {
	case m := <-ch:
		return fmt.Errorf("unexpected 4th server message %s.%s", m.ServicePath, m.ServiceMethod)
	case <-time.After(100 * time.Millisecond):
	}
	return nil
}

// ---------------------------------------------------------------- main

func main() {
	addr := flag.String("addr", "", "server address network@host:port (required)")
	codec := flag.String("codec", "msgpack", "json|msgpack|protobuf|raw")
	auth := flag.String("auth", "", "auth token the server expects (enables auth_ok/auth_refused)")
	casesFlag := flag.String("cases", "", "comma separated cases (default all): "+strings.Join(allCases, ","))
	caseTimeout := flag.Duration("case-timeout", 30*time.Second, "upper bound for one case")
	verbose := flag.Bool("v", false, "rpcx logging and details on stderr")
	tlsCA := flag.String("tls-ca", "", "connect with TLS, trusting this PEM CA file")
	tlsCert := flag.String("tls-cert", "", "mutual TLS: present this PEM client certificate file (with -tls-key)")
	tlsKey := flag.String("tls-key", "", "PEM private key file of -tls-cert")
	tlsServerName := flag.String("tls-server-name", "", "name the server certificate must carry (default: the host dialed)")
	flag.Parse()

	svc.SetupLogging(*verbose)
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "goclient: -addr is required")
		os.Exit(2)
	}
	if !strings.Contains(*addr, "@") {
		*addr = "tcp@" + *addr
	}
	st := map[string]protocol.SerializeType{
		"json": protocol.JSON, "msgpack": protocol.MsgPack, "protobuf": protocol.ProtoBuffer, "raw": protocol.SerializeNone,
	}
	ser, ok := st[*codec]
	if !ok {
		fmt.Fprintf(os.Stderr, "goclient: unknown -codec %q\n", *codec)
		os.Exit(2)
	}
	opt := client.DefaultOption
	opt.SerializeType = ser
	opt.ConnectTimeout = 3 * time.Second
	tlsConfig, err := svc.ClientTLS(*tlsCA, *tlsCert, *tlsKey, *tlsServerName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goclient: %v\n", err)
		os.Exit(2)
	}
	opt.TLSConfig = tlsConfig
	r := &runner{addr: *addr, codec: *codec, auth: *auth, opt: opt, verbose: *verbose}

	funcs := map[string]func(context.Context) error{
		"plain": r.casePlain, "metadata": r.caseMetadata,
		"gzip":    func(ctx context.Context) error { return r.caseCompress(ctx, protocol.Gzip, "gzip") },
		"snappy":  func(ctx context.Context) error { return r.caseCompress(ctx, svc.Snappy, "snappy") },
		"auth_ok": r.caseAuthOK, "auth_refused": r.caseAuthRefused,
		"service_error": r.caseServiceError, "unknown_service": r.caseUnknownService,
		"unknown_method": r.caseUnknownMethod, "oneway": r.caseOneway,
		"heartbeat": r.caseHeartbeat, "timeout": r.caseTimeout,
		"concurrent": r.caseConcurrent, "push": r.casePush,
	}
	cases := allCases
	if *casesFlag != "" {
		cases = nil
		for _, c := range strings.Split(*casesFlag, ",") {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			if funcs[c] == nil {
				fmt.Fprintf(os.Stderr, "goclient: unknown case %q (known: %s)\n", c, strings.Join(allCases, ","))
				os.Exit(2)
			}
			cases = append(cases, c)
		}
	}

	passed, failed, skipped := 0, 0, 0
	for _, name := range cases {
		f := funcs[name]
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Errorf("panic: %v", p)
				}
			}()
			done <- f(ctx)
		}()
		var err error
		timer := time.NewTimer(*caseTimeout)
		select {
		case err = <-done:
		case <-timer.C:
			err = fmt.Errorf("case did not finish within %v", *caseTimeout)
		}
		timer.Stop()
		cancel()
		var sk errSkip
		switch {
		case err == nil:
			passed++
			fmt.Printf("PASS %s\n", name)
		case errors.As(err, &sk):
			skipped++
			fmt.Printf("SKIP %s: %s\n", name, sk.reason)
		default:
			failed++
			fmt.Printf("FAIL %s: %s\n", name, strings.ReplaceAll(err.Error(), "\n", " "))
		}
	}
	fmt.Printf("%s: %d passed, %d failed, %d skipped\n", *codec, passed, failed, skipped)
	if failed > 0 {
		os.Exit(1)
	}
}
