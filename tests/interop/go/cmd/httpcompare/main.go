// Command httpcompare sends the same raw HTTP requests to the real Go rpcx server and to the
// Rust server and compares what comes back: status code, the X-RPCX-* response headers (and
// Content-Type, Allow, X-Content-Type-Options), and the body — JSON and MsgPack bodies by
// value, every other body byte for byte.
//
// It covers the HTTP gateway (server/gateway.go, converter.go) with each serializer, metadata,
// oneway, unknown service and method, service errors, malformed headers, missing headers,
// methods the gateway does not route (DELETE, OPTIONS) and a bad token; JSON-RPC 2.0
// (server/jsonrpc2.go) single calls, notifications and errors; the CONNECT and WebSocket
// handshakes against Go's Serve("http") and Serve("ws") servers.
//
// Where the two servers differ on purpose (docs/compatibility.md, "HTTP on the rpcx port"),
// the case names the field and the reason, or states what each side must answer on its own.
// Any other difference fails the case.
//
//	httpcompare -go HOST:PORT -rust HOST:PORT [-go-http HOST:PORT] [-go-ws HOST:PORT]
//	            [-auth TOKEN] [-cases a,b] [-list] [-v]
//
// -go is a goserver on tcp (gateway and JSON-RPC on its rpcx port), -rust the Rust server's
// TCP port (which serves every form), -go-http / -go-ws goservers started with -addr http@… /
// ws@… (their cases are skipped without them). Both tcp servers must use the same -auth token.
//
// Prints "PASS <case>" (followed by indented "deliberate:" lines where a documented
// difference was seen), "FAIL <case>: <reason>" or "SKIP <case>: <reason>", then
// "http compare: N passed, N failed, N skipped". Exit status 1 if a case failed, 2 on usage
// errors.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"rpcx-interop/pb"
)

// target names which pair of servers a case talks to.
type target int

const (
	tcpPort  target = iota // Go's tcp port (cmux: rpcx, gateway, JSON-RPC) vs the Rust port
	httpPort               // Go's Serve("http") vs the Rust port
	wsPort                 // Go's Serve("ws") vs the Rust port
)

// bodyKind says how bodies are compared.
type bodyKind int

const (
	bodyBytes   bodyKind = iota // byte for byte
	bodyJSON                    // by value (both must parse as JSON unless both are equal bytes)
	bodyMsgpack                 // by value
)

type request struct {
	method  string
	path    string
	headers [][2]string
	body    []byte
	noAuth  bool   // leave the Authorization header out
	raw     []byte // sent exactly as is instead of the fields above
}

type response struct {
	err    error // no (complete) response
	status int
	header http.Header
	body   []byte
	head   []byte // the raw response head (through its blank line)
}

type testCase struct {
	name   string
	target target
	req    request
	kind   bodyKind
	// differ: fields allowed to differ, each with the reason (see compareFields for the
	// names); the body's "error.message" blanks that JSON member before comparing.
	differ map[string]string
	// check: what both answers must satisfy (so the reference itself is checked too).
	check func(r *response) error
	// goWant/rustWant: a deliberately different case; each side is checked on its own and the
	// two are not compared.
	goWant, rustWant func(r *response) error
	why              string // the reason for goWant/rustWant
	// rawHead: compare the raw response heads byte for byte.
	rawHead bool
}

// ------------------------------------------------------------------ HTTP on a raw socket

func (r request) bytes(auth string) []byte {
	if r.raw != nil {
		return r.raw
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: rpcx.test\r\n", r.method, r.path)
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if auth != "" && !r.noAuth {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	if !r.has("Connection") {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.Write(r.body)
	return b.Bytes()
}

func (r request) has(name string) bool {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

// headRecorder copies what the response parser reads until the head is complete.
type headRecorder struct {
	r    io.Reader
	head bytes.Buffer
	done bool
}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if !h.done {
		h.head.Write(p[:n])
	}
	return n, err
}

// exchange sends req on a new connection and reads one response (10 s at most).
func exchange(addr string, req request, auth string) *response {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return &response{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req.bytes(auth)); err != nil {
		return &response{err: err}
	}
	rec := &headRecorder{r: conn}
	br := bufio.NewReader(rec)
	method := req.method
	if req.raw != nil {
		method = strings.SplitN(string(req.raw), " ", 2)[0]
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return &response{err: err}
	}
	rec.done = true
	out := &response{status: resp.StatusCode, header: resp.Header}
	// The head is what was read minus what the reader holds beyond it.
	all := rec.head.Bytes()
	out.head = append([]byte(nil), all[:len(all)-br.Buffered()]...)
	if resp.StatusCode != http.StatusSwitchingProtocols && !(method == "CONNECT" && resp.StatusCode/100 == 2) {
		out.body, err = io.ReadAll(resp.Body)
		if err != nil {
			return &response{err: fmt.Errorf("body: %w", err)}
		}
	}
	return out
}

// ------------------------------------------------------------------ comparison

// compared lists the headers compared besides every X-Rpcx-* header.
var compared = []string{"Content-Type", "Allow", "X-Content-Type-Options", "Upgrade", "Connection", "Sec-Websocket-Accept"}

func headerNames(a, b http.Header) []string {
	set := map[string]bool{}
	for _, h := range []http.Header{a, b} {
		for k := range h {
			if strings.HasPrefix(k, "X-Rpcx-") {
				set[k] = true
			}
		}
	}
	for _, k := range compared {
		set[k] = true
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func show(h http.Header, name string) string {
	v, ok := h[name]
	if !ok {
		return "<absent>"
	}
	return strconv.Quote(strings.Join(v, ", "))
}

// diff is one field that differs.
type diff struct{ field, goSide, rustSide string }

// compareFields returns every difference: "status", "header:<Name>", "body".
func compareFields(c *testCase, g, r *response) ([]diff, error) {
	var out []diff
	if g.status != r.status {
		out = append(out, diff{"status", strconv.Itoa(g.status), strconv.Itoa(r.status)})
	}
	for _, name := range headerNames(g.header, r.header) {
		gv, rv := show(g.header, name), show(r.header, name)
		if name == "X-Rpcx-Meta" && gv != rv {
			// Compared by value; the raw text must match too (Go sorts the keys).
			gq, e1 := url.ParseQuery(g.header.Get(name))
			rq, e2 := url.ParseQuery(r.header.Get(name))
			if e1 != nil || e2 != nil || !reflect.DeepEqual(gq, rq) {
				out = append(out, diff{"header:" + name, gv, rv})
			} else {
				out = append(out, diff{"header:" + name + " (order)", gv, rv})
			}
			continue
		}
		if gv != rv {
			out = append(out, diff{"header:" + name, gv, rv})
		}
	}
	if c.rawHead && !bytes.Equal(stripDate(g.head), stripDate(r.head)) {
		out = append(out, diff{"raw head", strconv.Quote(string(g.head)), strconv.Quote(string(r.head))})
	}
	same, err := sameBody(c, g.body, r.body)
	if err != nil {
		return nil, err
	}
	if !same {
		out = append(out, diff{"body", strconv.Quote(string(g.body)), strconv.Quote(string(r.body))})
	}
	return out, nil
}

func stripDate(head []byte) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(head), "\n") {
		if !strings.HasPrefix(strings.ToLower(l), "date:") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

func sameBody(c *testCase, g, r []byte) (bool, error) {
	if bytes.Equal(g, r) {
		return true, nil
	}
	switch c.kind {
	case bodyJSON:
		var gv, rv interface{}
		if json.Unmarshal(g, &gv) != nil || json.Unmarshal(r, &rv) != nil {
			return false, nil
		}
		if _, ok := c.differ["body:error.message"]; ok {
			blankErrorMessage(gv)
			blankErrorMessage(rv)
		}
		return reflect.DeepEqual(gv, rv), nil
	case bodyMsgpack:
		gv, err := decodeMsgpack(g)
		if err != nil {
			return false, fmt.Errorf("Go's body is not MsgPack: %v", err)
		}
		rv, err := decodeMsgpack(r)
		if err != nil {
			return false, fmt.Errorf("Rust's body is not MsgPack: %v", err)
		}
		return reflect.DeepEqual(gv, rv), nil
	}
	return false, nil
}

func blankErrorMessage(v interface{}) {
	if m, ok := v.(map[string]interface{}); ok {
		if e, ok := m["error"].(map[string]interface{}); ok {
			if _, ok := e["message"]; ok {
				e["message"] = "<blanked>"
			}
		}
	}
}

// ------------------------------------------------------------------ a small MsgPack reader

// decodeMsgpack decodes one MsgPack value into nil, bool, int64/uint64 (every integer
// width alike), float64, string, []byte, []interface{} or map[string]interface{}.
func decodeMsgpack(b []byte) (interface{}, error) {
	d := &mpDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(b) {
		return nil, fmt.Errorf("%d trailing bytes", len(b)-d.i)
	}
	return v, nil
}

type mpDecoder struct {
	b []byte
	i int
}

func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || d.i+n > len(d.b) {
		return nil, errors.New("truncated")
	}
	s := d.b[d.i : d.i+n]
	d.i += n
	return s, nil
}

func (d *mpDecoder) uint(n int) (uint64, error) {
	s, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range s {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *mpDecoder) value(depth int) (interface{}, error) {
	if depth > 64 {
		return nil, errors.New("nested too deep")
	}
	t, err := d.uint(1)
	if err != nil {
		return nil, err
	}
	switch c := byte(t); {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0x80 && c <= 0x8f:
		return d.mapOf(int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return d.arrayOf(int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		s, err := d.take(int(c & 0x1f))
		return string(s), err
	case c == 0xc0:
		return nil, nil
	case c == 0xc2 || c == 0xc3:
		return c == 0xc3, nil
	case c >= 0xc4 && c <= 0xc6: // bin 8/16/32
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		s, err := d.take(int(n))
		return append([]byte{}, s...), err
	case c == 0xca:
		u, err := d.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case c == 0xcb:
		u, err := d.uint(8)
		return math.Float64frombits(u), err
	case c >= 0xcc && c <= 0xcf: // uint 8..64
		u, err := d.uint(1 << (c - 0xcc))
		if u <= math.MaxInt64 {
			return int64(u), err
		}
		return u, err
	case c >= 0xd0 && c <= 0xd3: // int 8..64
		n := 1 << (c - 0xd0)
		u, err := d.uint(n)
		shift := uint(64 - 8*n)
		return int64(u<<shift) >> shift, err
	case c >= 0xd9 && c <= 0xdb: // str 8/16/32
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		s, err := d.take(int(n))
		return string(s), err
	case c == 0xdc || c == 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(int(n), depth)
	case c == 0xde || c == 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(n), depth)
	default:
		return nil, fmt.Errorf("unsupported MsgPack type byte 0x%02x", c)
	}
}

func (d *mpDecoder) arrayOf(n, depth int) (interface{}, error) {
	out := []interface{}{}
	for i := 0; i < n; i++ {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *mpDecoder) mapOf(n, depth int) (interface{}, error) {
	out := map[string]interface{}{}
	for i := 0; i < n; i++ {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprint(k)] = v
	}
	return out, nil
}

// ------------------------------------------------------------------ checks

func all(checks ...func(*response) error) func(*response) error {
	return func(r *response) error {
		for _, c := range checks {
			if err := c(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func answered(r *response) error {
	if r.err != nil {
		return fmt.Errorf("no response: %v", r.err)
	}
	return nil
}

func status(code int) func(*response) error {
	return func(r *response) error {
		if err := answered(r); err != nil {
			return err
		}
		if r.status != code {
			return fmt.Errorf("status %d, want %d (body %q)", r.status, code, r.body)
		}
		return nil
	}
}

func header(name, want string) func(*response) error {
	return func(r *response) error {
		if err := answered(r); err != nil {
			return err
		}
		if got := r.header.Get(name); got != want {
			return fmt.Errorf("%s = %q, want %q", name, got, want)
		}
		return nil
	}
}

func headerPrefix(name, want string) func(*response) error {
	return func(r *response) error {
		if err := answered(r); err != nil {
			return err
		}
		if got := r.header.Get(name); !strings.HasPrefix(got, want) {
			return fmt.Errorf("%s = %q, want it to start with %q", name, got, want)
		}
		return nil
	}
}

// rpcError: a gateway error reply (X-RPCX-MessageStatusType: Error and the message).
func rpcError(code int, message string) func(*response) error {
	return all(status(code), header("X-Rpcx-Messagestatustype", "Error"), header("X-Rpcx-Errormessage", message))
}

func jsonBody(want string) func(*response) error {
	return func(r *response) error {
		if err := answered(r); err != nil {
			return err
		}
		var g, w interface{}
		if err := json.Unmarshal(r.body, &g); err != nil {
			return fmt.Errorf("body %q is not JSON: %v", r.body, err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			return fmt.Errorf("bad expectation %q: %v", want, err)
		}
		if !reflect.DeepEqual(g, w) {
			return fmt.Errorf("body %s, want %s", r.body, want)
		}
		return nil
	}
}

func bodyIs(want []byte) func(*response) error {
	return func(r *response) error {
		if err := answered(r); err != nil {
			return err
		}
		if !bytes.Equal(r.body, want) {
			return fmt.Errorf("body %q, want %q", r.body, want)
		}
		return nil
	}
}

// jsonrpcError: a JSON-RPC error answer with code and a message starting with prefix.
func jsonrpcError(id interface{}, code int, prefix string) func(*response) error {
	return func(r *response) error {
		if err := status(200)(r); err != nil {
			return err
		}
		var v struct {
			JSONRPC string           `json:"jsonrpc"`
			ID      *json.RawMessage `json:"id"`
			Result  *json.RawMessage `json:"result"`
			Error   *struct {
				Code    int             `json:"code"`
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil {
			return fmt.Errorf("body %q is not a JSON-RPC object: %v", r.body, err)
		}
		if v.JSONRPC != "2.0" || v.Error == nil || v.Result != nil {
			return fmt.Errorf("body %s is not a JSON-RPC 2.0 error", r.body)
		}
		if v.Error.Code != code || !strings.HasPrefix(v.Error.Message, prefix) {
			return fmt.Errorf("error %d %q, want %d %q…", v.Error.Code, v.Error.Message, code, prefix)
		}
		wantID := "<absent>"
		if id != nil {
			b, _ := json.Marshal(id)
			wantID = string(b)
		}
		gotID := "<absent>"
		if v.ID != nil {
			gotID = string(*v.ID)
		}
		if gotID != wantID {
			return fmt.Errorf("id %s, want %s", gotID, wantID)
		}
		return nil
	}
}

// ------------------------------------------------------------------ the cases

func gw(path, method, serialize string, body []byte, extra ...[2]string) request {
	h := [][2]string{{"X-RPCX-ServicePath", path}, {"X-RPCX-ServiceMethod", method}, {"X-RPCX-SerializeType", serialize}}
	return request{method: "POST", path: "/", headers: append(h, extra...), body: body}
}

func jr(body string, extra ...[2]string) request {
	h := append([][2]string{{"X-JSONRPC-2.0", "true"}, {"Content-Type", "application/json"}}, extra...)
	return request{method: "POST", path: "/", headers: h, body: []byte(body)}
}

const (
	whyJSONType    = "Go's misspelled \"Context-Type\" header leaves net/http to sniff"
	whyJSONErrText = "each JSON parser's own error text"
)

func cases(auth string) []testCase {
	protoArgs, err := proto.Marshal(&pb.ProtoArgs{A: 7, B: 8})
	if err != nil {
		panic(err)
	}
	protoReply, _ := proto.Marshal(&pb.ProtoReply{C: 56})
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	// {"A":7,"B":8} in MsgPack.
	msgpackArgs := []byte{0x82, 0xa1, 'A', 0x07, 0xa1, 'B', 0x08}
	ok := func(body string) func(*response) error {
		return all(status(200), header("X-Rpcx-Messagestatustype", ""), jsonBody(body))
	}
	cs := []testCase{
		// ---------------------------------------------------------- gateway
		{name: "gw_json_mul", req: gw("Arith", "Mul", "1", []byte(`{"A":7,"B":8}`),
			[2]string{"X-RPCX-MessageID", "12345"}, [2]string{"X-RPCX-Version", "1"}),
			kind: bodyJSON,
			check: all(ok(`{"C":56}`), header("X-Rpcx-Messageid", "12345"), header("X-Rpcx-Version", "1"),
				header("X-Rpcx-Servicepath", "Arith"), header("X-Rpcx-Servicemethod", "Mul"), header("X-Rpcx-Serializetype", "1"))},
		{name: "gw_json_path_from_url", req: request{method: "POST", path: "/Arith",
			headers: [][2]string{{"X-RPCX-ServiceMethod", "Add"}, {"X-RPCX-SerializeType", "1"}}, body: []byte(`{"A":-300,"B":5}`)},
			kind: bodyJSON, check: all(ok(`{"C":-295}`), header("X-Rpcx-Servicepath", "Arith"))},
		{name: "gw_json_header_beats_url", req: request{method: "POST", path: "/NoSuch",
			headers: [][2]string{{"X-RPCX-ServicePath", "Arith"}, {"X-RPCX-ServiceMethod", "Mul"}, {"X-RPCX-SerializeType", "1"}},
			body:    []byte(`{"A":100000,"B":100000}`)},
			kind: bodyJSON, check: ok(`{"C":10000000000}`)},
		{name: "gw_get_with_body", req: func() request { r := gw("Arith", "Mul", "1", []byte(`{"A":2,"B":3}`)); r.method = "GET"; return r }(),
			kind: bodyJSON, check: ok(`{"C":6}`)},
		{name: "gw_put", req: func() request { r := gw("Arith", "Mul", "1", []byte(`{"A":2,"B":4}`)); r.method = "PUT"; return r }(),
			kind: bodyJSON, check: ok(`{"C":8}`)},
		{name: "gw_json_echo_base64", req: gw("Arith", "Echo", "1", []byte(`"aGVsbG8="`)),
			kind: bodyJSON, check: ok(`"aGVsbG8="`)},
		{name: "gw_msgpack_mul", req: gw("Arith", "Mul", "3", msgpackArgs), kind: bodyMsgpack,
			check: all(status(200), func(r *response) error {
				v, err := decodeMsgpack(r.body)
				if err != nil || !reflect.DeepEqual(v, map[string]interface{}{"C": int64(56)}) {
					return fmt.Errorf("MsgPack body %x = %v (%v), want {C:56}", r.body, v, err)
				}
				return nil
			})},
		{name: "gw_protobuf_mul", req: gw("ProtoArith", "Mul", "2", protoArgs),
			check: all(status(200), bodyIs(protoReply))},
		{name: "gw_raw_echo", req: gw("Arith", "Echo", "0", allBytes),
			check: all(status(200), bodyIs(allBytes))},
		{name: "gw_raw_echo_empty", req: gw("Arith", "Echo", "0", nil), check: all(status(200), bodyIs(nil))},
		{name: "gw_metadata", req: gw("Arith", "Meta", "1", []byte(`{"A":1,"B":2}`),
			[2]string{"X-RPCX-Meta", "z=1&a=2&sp=x+y%26z&empty=&%D0%BA=%D0%B7"}),
			kind: bodyJSON,
			check: all(status(200), func(r *response) error {
				q, err := url.ParseQuery(r.header.Get("X-Rpcx-Meta"))
				if err != nil || q.Get("echo-sp") != "x y&z" || q.Get("echo-к") != "з" || q.Get("echo-z") != "1" {
					return fmt.Errorf("X-Rpcx-Meta %q lacks the echoed pairs", r.header.Get("X-Rpcx-Meta"))
				}
				return nil
			})},
		{name: "gw_oneway", req: gw("Arith", "Mul", "1", []byte(`{"A":7,"B":8}`), [2]string{"X-RPCX-Oneway", "true"}),
			check: all(status(200), bodyIs(nil))},
		{name: "gw_heartbeat_header", req: gw("Arith", "Mul", "1", []byte(`{"A":3,"B":3}`), [2]string{"X-RPCX-Heartbeat", "true"}),
			kind: bodyJSON, check: ok(`{"C":9}`)},
		{name: "gw_compress_header", req: gw("Arith", "Mul", "1", []byte(`{"A":7,"B":8}`), [2]string{"X-RPCX-CompressType", "1"}),
			kind: bodyJSON},
		{name: "gw_unknown_service", req: gw("NoSuch", "Mul", "1", []byte(`{"A":1,"B":2}`)),
			check: rpcError(500, "rpcx: can't find service NoSuch")},
		{name: "gw_unknown_method", req: gw("Arith", "NoSuch", "1", []byte(`{"A":1,"B":2}`)),
			check: rpcError(500, "rpcx: can't find method NoSuch")},
		{name: "gw_div_by_zero", req: gw("Arith", "Div", "1", []byte(`{"A":1,"B":0}`)),
			check: rpcError(500, "divide by zero")},
		{name: "gw_bad_json_body", req: gw("Arith", "Mul", "1", []byte(`{"A":`)),
			check: rpcError(500, "unexpected EOF")},
		{name: "gw_json_wrong_type", req: gw("Arith", "Mul", "1", []byte(`{"A":"x","B":2}`)),
			differ: map[string]string{"header:X-Rpcx-Errormessage": whyJSONErrText},
			check:  all(status(500), header("X-Rpcx-Messagestatustype", "Error"))},
		{name: "gw_html_payload_type", req: gw("Arith", "Echo", "0", []byte("  <html><body>hi</body></html>")),
			check: all(status(200), header("Content-Type", "text/html; charset=utf-8"))},
		{name: "gw_png_payload_type", req: gw("Arith", "Echo", "0", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")),
			check: all(status(200), header("Content-Type", "image/png"))},
		{name: "gw_json_null_args", req: gw("Arith", "Mul", "1", []byte(`null`)),
			why:      "Go's encoding/json leaves a struct untouched for null (Mul of zeroes); serde, under the Rust service, refuses null for a struct",
			goWant:   ok(`{"C":0}`),
			rustWant: all(status(500), headerPrefix("X-Rpcx-Errormessage", "invalid type: null, expected struct Args"))},
		{name: "gw_unknown_serializer", req: gw("Arith", "Mul", "9", []byte(`{"A":1,"B":2}`)),
			check: all(status(500), header("X-Rpcx-Messagestatustype", "Error"))},
		{name: "gw_bad_message_id", req: gw("Arith", "Mul", "1", []byte(`{"A":1,"B":2}`), [2]string{"X-RPCX-MessageID", "abc"}),
			check: rpcError(200, `strconv.ParseUint: parsing "abc": invalid syntax`)},
		{name: "gw_bad_meta_escape", req: gw("Arith", "Mul", "1", []byte(`{"A":1,"B":2}`), [2]string{"X-RPCX-Meta", "a=%zz"}),
			check: rpcError(200, `invalid URL escape "%zz"`)},
		{name: "gw_bad_serialize_type", req: gw("Arith", "Mul", "json", []byte(`{"A":1,"B":2}`)),
			check: rpcError(200, `strconv.Atoi: parsing "json": invalid syntax`)},
		{name: "gw_bad_compress_type", req: gw("Arith", "Mul", "1", []byte(`{"A":1,"B":2}`), [2]string{"X-RPCX-CompressType", "gzip"}),
			check: rpcError(200, `strconv.Atoi: parsing "gzip": invalid syntax`)},
		{name: "gw_missing_service_path", req: request{method: "POST", path: "/",
			headers: [][2]string{{"X-RPCX-ServiceMethod", "Mul"}, {"X-RPCX-SerializeType", "1"}}, body: []byte(`{}`)},
			check: rpcError(200, "empty servicepath")},
		{name: "gw_missing_method", req: request{method: "POST", path: "/Arith",
			headers: [][2]string{{"X-RPCX-SerializeType", "1"}}, body: []byte(`{}`)},
			check: rpcError(200, "empty servicemethod")},
		{name: "gw_missing_serialize_type", req: request{method: "POST", path: "/Arith",
			headers: [][2]string{{"X-RPCX-ServiceMethod", "Mul"}}, body: []byte(`{}`)},
			check: rpcError(200, "empty serialized type")},
		{name: "gw_delete", req: func() request { r := gw("Arith", "Mul", "1", nil); r.method = "DELETE"; return r }(),
			check: all(status(405), header("Allow", "GET, OPTIONS, POST, PUT"))},
		{name: "gw_options", req: request{method: "OPTIONS", path: "/Arith"},
			check: all(status(200), header("Allow", "GET, OPTIONS, POST, PUT"))},
	}
	if auth != "" {
		cs = append(cs,
			testCase{name: "gw_bad_token", req: gw("Arith", "Mul", "1", []byte(`{"A":1,"B":2}`), [2]string{"Authorization", auth + "-wrong"}),
				check: rpcError(401, "invalid token")},
			testCase{name: "gw_no_token", req: func() request { r := gw("Arith", "Mul", "1", []byte(`{"A":1,"B":2}`)); r.noAuth = true; return r }(),
				check: rpcError(401, "invalid token")},
		)
	}
	jt := map[string]string{"header:Content-Type": whyJSONType}
	jtErr := map[string]string{"header:Content-Type": whyJSONType, "body:error.message": whyJSONErrText}
	cs = append(cs, []testCase{
		// ---------------------------------------------------------- JSON-RPC 2.0
		{name: "jsonrpc_single", req: jr(`{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":7,"B":8},"id":1}`),
			kind: bodyJSON, differ: jt, check: jsonBody(`{"jsonrpc":"2.0","result":{"C":56},"id":1}`)},
		{name: "jsonrpc_string_id", req: jr(`{"jsonrpc":"2.0","method":"Arith.Add","params":{"A":7,"B":8},"id":"abc"}`),
			kind: bodyJSON, differ: jt, check: jsonBody(`{"jsonrpc":"2.0","result":{"C":15},"id":"abc"}`)},
		{name: "jsonrpc_no_version_member", req: jr(`{"method":"Arith.Mul","params":{"A":2,"B":2},"id":2}`),
			kind: bodyJSON, differ: jt, check: jsonBody(`{"jsonrpc":"2.0","result":{"C":4},"id":2}`)},
		{name: "jsonrpc_any_path", req: func() request {
			r := jr(`{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":3,"B":5},"id":3}`)
			r.path = "/any/path?x=1"
			return r
		}(), kind: bodyJSON, differ: jt, check: jsonBody(`{"jsonrpc":"2.0","result":{"C":15},"id":3}`)},
		{name: "jsonrpc_metadata", req: jr(`{"jsonrpc":"2.0","method":"Arith.Meta","params":{"A":1,"B":2},"id":3}`,
			[2]string{"X-RPCX-Meta", "a=1&b=2"}),
			why: "Go's JSON-RPC handler puts neither the request nor a response metadata map in the service's context " +
				"(svc.Arith.Meta then fails); the Rust server gives the service both (X-RPCX-Meta and Authorization as __AUTH), " +
				"the response metadata having no place in a JSON-RPC answer",
			goWant:   jsonrpcError(3, -32603, "no response metadata map in context"),
			rustWant: jsonBody(`{"jsonrpc":"2.0","result":{"C":` + strconv.Itoa(2+boolInt(auth != "")) + `},"id":3}`)},
		{name: "jsonrpc_notification", req: jr(`{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":7,"B":8}}`),
			check: all(status(200), bodyIs(nil))},
		{name: "jsonrpc_parse_error", req: jr(`{"jsonrpc":"2.0","method":`),
			kind: bodyJSON, differ: jtErr, check: jsonrpcError(nil, -32700, "")},
		{name: "jsonrpc_bad_version", req: jr(`{"jsonrpc":"1.0","method":"Arith.Mul","params":{"A":1,"B":2},"id":4}`),
			kind: bodyJSON, differ: jt, check: jsonrpcError(nil, -32700, "invalid RPC version 1.0")},
		{name: "jsonrpc_unknown_method", req: jr(`{"jsonrpc":"2.0","method":"Arith.NoSuch","params":{"A":1,"B":2},"id":5}`),
			kind: bodyJSON, differ: jt, check: jsonrpcError(5, -32603, "rpcx: can't find method NoSuch")},
		{name: "jsonrpc_unknown_service", req: jr(`{"jsonrpc":"2.0","method":"NoSuch.Mul","params":{"A":1,"B":2},"id":6}`),
			kind: bodyJSON, differ: jt, check: jsonrpcError(6, -32603, "rpcx: can't find service NoSuch")},
		{name: "jsonrpc_method_without_dot", req: jr(`{"jsonrpc":"2.0","method":"Mul","params":{"A":1,"B":2},"id":7}`),
			kind: bodyJSON, differ: jt, check: jsonrpcError(7, -32601, "must contains servicepath and method")},
		{name: "jsonrpc_service_error", req: jr(`{"jsonrpc":"2.0","method":"Arith.Div","params":{"A":1,"B":0},"id":8}`),
			kind: bodyJSON, differ: jt, check: jsonrpcError(8, -32603, "divide by zero")},
		{name: "jsonrpc_batch", req: jr(`[{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":2,"B":3},"id":1},` +
			`{"jsonrpc":"2.0","method":"Arith.Add","params":{"A":2,"B":3}},` +
			`{"jsonrpc":"2.0","method":"Arith.Div","params":{"A":1,"B":0},"id":"d"}]`),
			why:    "Go decodes the body into one request object, so a batch is a parse error; the Rust server answers each request of the batch (JSON-RPC 2.0 §6)",
			goWant: jsonrpcError(nil, -32700, "json: cannot unmarshal array"),
			rustWant: jsonBody(`[{"jsonrpc":"2.0","result":{"C":6},"id":1},` +
				`{"jsonrpc":"2.0","error":{"code":-32603,"message":"divide by zero","data":null},"id":"d"}]`)},
		{name: "jsonrpc_missing_params", req: jr(`{"jsonrpc":"2.0","method":"Arith.Mul","id":9}`),
			why:      "Go dereferences the absent params and its handler panics (net/http drops the connection); the Rust server passes null to the service, whose JSON decoder refuses null for a struct",
			goWant:   func(r *response) error { return noAnswer(r) },
			rustWant: jsonrpcError(9, -32603, "invalid type: null, expected struct Args")},
		{name: "jsonrpc_null_params", req: jr(`{"jsonrpc":"2.0","method":"Arith.Mul","params":null,"id":9}`),
			why:      "a JSON null params is a nil *json.RawMessage in Go: the same panic; the Rust server passes null",
			goWant:   func(r *response) error { return noAnswer(r) },
			rustWant: jsonrpcError(9, -32603, "invalid type: null, expected struct Args")},
	}...)
	if auth != "" {
		cs = append(cs, testCase{name: "jsonrpc_bad_token",
			req:  jr(`{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":1,"B":2},"id":10}`, [2]string{"Authorization", auth + "-wrong"}),
			kind: bodyJSON, differ: jt, check: jsonrpcError(10, -32603, "invalid token")})
	}
	const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="
	wsUpgrade := func(origin bool) request {
		h := [][2]string{{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
			{"Sec-WebSocket-Key", wsKey}, {"Sec-WebSocket-Version", "13"}}
		if origin {
			h = append(h, [2]string{"Origin", "http://rpcx.test"})
		}
		return request{method: "GET", path: "/_rpcx_", headers: h, noAuth: true}
	}
	cs = append(cs, []testCase{
		// ---------------------------------------------------------- tunnels
		{name: "connect_tunnel_answer", target: httpPort, rawHead: true,
			req: request{raw: []byte("CONNECT /_rpcx_ HTTP/1.0\n\n")},
			check: all(status(200), func(r *response) error {
				if string(r.head) != "HTTP/1.0 200 Connected to rpcx\n\n" {
					return fmt.Errorf("head %q", r.head)
				}
				return nil
			})},
		{name: "connect_wrong_path", target: httpPort,
			req:   request{raw: []byte("CONNECT /other HTTP/1.0\r\n\r\n")},
			check: all(status(404), bodyIs([]byte("404 page not found\n")))},
		{name: "websocket_handshake", target: wsPort, req: wsUpgrade(true),
			check: all(status(101), header("Sec-Websocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))},
		{name: "connect_on_the_tcp_port", req: request{raw: []byte("CONNECT /_rpcx_ HTTP/1.0\n\n")},
			why:      "Go's tcp port hands CONNECT to the gateway's router (405); the Rust port opens the tunnel (Go needs a separate Serve(\"http\"))",
			goWant:   all(status(405), header("Allow", "GET, OPTIONS, POST, PUT")),
			rustWant: all(status(200), func(r *response) error { return rawHeadIs(r, "HTTP/1.0 200 Connected to rpcx\n\n") })},
		{name: "websocket_on_the_tcp_port", req: wsUpgrade(true),
			why:      "Go's tcp port hands the upgrade to the gateway (a GET without rpcx headers); the Rust port accepts the WebSocket (Go needs a separate Serve(\"ws\"))",
			goWant:   rpcError(200, "empty servicemethod"),
			rustWant: all(status(101), header("Sec-Websocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))},
		{name: "websocket_without_origin", target: wsPort, req: wsUpgrade(false),
			why:      "x/net/websocket's server refuses a handshake without Origin (403); the Rust server does not require one (browsers always send it, other clients need not)",
			goWant:   status(403),
			rustWant: status(101)},
	}...)
	return cs
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func rawHeadIs(r *response, want string) error {
	if string(r.head) != want {
		return fmt.Errorf("response head %q, want %q", r.head, want)
	}
	return nil
}

func noAnswer(r *response) error {
	if r.err == nil {
		return fmt.Errorf("got a response (status %d, body %q), want the connection dropped", r.status, r.body)
	}
	return nil
}

// ------------------------------------------------------------------ main

func run(c *testCase, goAddr, rustAddr, auth string, verbose bool) (notes []string, skip string, err error) {
	if goAddr == "" {
		return nil, "no Go server for this target (-go-http / -go-ws)", nil
	}
	g := exchange(goAddr, c.req, auth)
	r := exchange(rustAddr, c.req, auth)
	if verbose {
		for _, side := range []struct {
			name string
			r    *response
		}{{"go", g}, {"rust", r}} {
			fmt.Fprintf(os.Stderr, "httpcompare: %s %s: err=%v head=%q body=%q\n", c.name, side.name, side.r.err, side.r.head, side.r.body)
		}
	}
	if c.goWant != nil {
		if err := c.goWant(g); err != nil {
			return nil, "", fmt.Errorf("Go server: %v", err)
		}
		if err := c.rustWant(r); err != nil {
			return nil, "", fmt.Errorf("Rust server: %v", err)
		}
		return []string{"differs on purpose: " + c.why}, "", nil
	}
	if g.err != nil || r.err != nil {
		return nil, "", fmt.Errorf("no response: Go: %v; Rust: %v", g.err, r.err)
	}
	if c.check != nil {
		if err := c.check(g); err != nil {
			return nil, "", fmt.Errorf("Go server (the reference) fails the check: %v", err)
		}
		if err := c.check(r); err != nil {
			return nil, "", fmt.Errorf("Rust server: %v", err)
		}
	}
	diffs, err := compareFields(c, g, r)
	if err != nil {
		return nil, "", err
	}
	var bad []string
	for _, d := range diffs {
		key := d.field
		if key == "body" {
			if _, ok := c.differ["body:error.message"]; ok {
				key = "body:error.message"
			}
		}
		if why, ok := c.differ[key]; ok {
			notes = append(notes, fmt.Sprintf("deliberate: %s: Go %s, Rust %s (%s)", d.field, d.goSide, d.rustSide, why))
			continue
		}
		bad = append(bad, fmt.Sprintf("%s: Go %s, Rust %s", d.field, d.goSide, d.rustSide))
	}
	// A blanked error message is deliberate only when the rest of the body agrees.
	if why, ok := c.differ["body:error.message"]; ok {
		var gv, rv interface{}
		if json.Unmarshal(g.body, &gv) == nil && json.Unmarshal(r.body, &rv) == nil && !bytes.Equal(g.body, r.body) {
			if msg := errorMessages(gv, rv); msg != "" {
				notes = append(notes, fmt.Sprintf("deliberate: error.message: %s (%s)", msg, why))
			}
		}
	}
	if len(bad) > 0 {
		return nil, "", errors.New(strings.Join(bad, "; "))
	}
	return notes, "", nil
}

func errorMessages(g, r interface{}) string {
	get := func(v interface{}) string {
		if m, ok := v.(map[string]interface{}); ok {
			if e, ok := m["error"].(map[string]interface{}); ok {
				return fmt.Sprint(e["message"])
			}
		}
		return ""
	}
	if get(g) == get(r) {
		return ""
	}
	return fmt.Sprintf("Go %q, Rust %q", get(g), get(r))
}

func hostPort(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func main() {
	goAddr := flag.String("go", "", "the Go goserver's tcp address (host:port or tcp@host:port)")
	rustAddr := flag.String("rust", "", "the Rust server's tcp address")
	goHTTP := flag.String("go-http", "", "a goserver started with -addr http@… (CONNECT cases)")
	goWS := flag.String("go-ws", "", "a goserver started with -addr ws@… (WebSocket cases)")
	auth := flag.String("auth", "", "the token both tcp servers require (sent as Authorization)")
	only := flag.String("cases", "", "comma-separated case names (default: all)")
	list := flag.Bool("list", false, "print the case names and exit")
	verbose := flag.Bool("v", false, "print both raw answers of every case on stderr")
	flag.Parse()

	all := cases(*auth)
	if *list {
		for _, c := range all {
			fmt.Println(c.name)
		}
		return
	}
	if *goAddr == "" || *rustAddr == "" {
		fmt.Fprintln(os.Stderr, "httpcompare: -go and -rust are required")
		os.Exit(2)
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	known := map[string]bool{}
	for _, c := range all {
		known[c.name] = true
	}
	for n := range want {
		if !known[n] {
			fmt.Fprintf(os.Stderr, "httpcompare: unknown case %q (see -list)\n", n)
			os.Exit(2)
		}
	}
	passed, failed, skipped := 0, 0, 0
	for i := range all {
		c := &all[i]
		if len(want) > 0 && !want[c.name] {
			continue
		}
		goSide := hostPort(*goAddr)
		switch c.target {
		case httpPort:
			goSide = hostPort(*goHTTP)
		case wsPort:
			goSide = hostPort(*goWS)
		}
		notes, skip, err := run(c, goSide, hostPort(*rustAddr), *auth, *verbose)
		switch {
		case skip != "":
			skipped++
			fmt.Printf("SKIP %s: %s\n", c.name, skip)
		case err != nil:
			failed++
			fmt.Printf("FAIL %s: %s\n", c.name, strings.ReplaceAll(err.Error(), "\n", " "))
		default:
			passed++
			fmt.Printf("PASS %s\n", c.name)
			for _, n := range notes {
				fmt.Printf("     %s\n", n)
			}
		}
	}
	fmt.Printf("http compare: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		os.Exit(1)
	}
}
