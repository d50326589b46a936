// Command gootel is the Go side of the OpenTelemetry interop check
// (tests/interop/run_otel.sh): trace context carried in the rpcx request metadata map,
// used as the OpenTelemetry TextMapCarrier of the W3C TraceContext propagator, as the
// otel plugins of rpcxio/rpcx-plugins do.
//
//	gootel -mode client -addr tcp@HOST:PORT
//	    starts a client span, injects its context into the request metadata, calls
//	    Arith.Mul {6,7}; prints "GO_CLIENT_SPAN <trace id> <span id>" and "REPLY <c>".
//	gootel -mode server -addr tcp@127.0.0.1:0
//	    serves Trace.Seen, which extracts the context from the request metadata, starts a
//	    server span "rpcx.service.Trace.Seen" as its child and replies with the trace id and
//	    parent span id it extracted and the server span's own ids. Prints
//	    "LISTENING <network>@<address>" once it accepts connections.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/server"
	"github.com/smallnest/rpcx/share"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"rpcx-interop/internal/svc"
)

// Seen is the reply of Trace.Seen.
type Seen struct {
	Traceparent   string `json:"traceparent"`
	TraceID       string `json:"trace_id"`
	ParentID      string `json:"parent_id"`
	Remote        bool   `json:"remote"`
	ServerTraceID string `json:"server_trace_id"`
	ServerSpanID  string `json:"server_span_id"`
	ServerParent  string `json:"server_parent_id"`
}

// Trace is the service of server mode.
type Trace struct {
	tracer trace.Tracer
}

// Seen reports the trace context found in the request metadata.
func (t *Trace) Seen(ctx context.Context, args *svc.Args, reply *Seen) error {
	meta, _ := ctx.Value(share.ReqMetaDataKey).(map[string]string)
	if meta == nil {
		meta = map[string]string{}
	}
	extracted := otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(meta))
	sc := trace.SpanContextFromContext(extracted)
	if !sc.IsValid() {
		return errors.New("no valid trace context in the request metadata")
	}
	_, span := t.tracer.Start(
		trace.ContextWithRemoteSpanContext(ctx, sc),
		"rpcx.service.Trace.Seen",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("rpc.system", "rpcx"),
			attribute.String("rpc.service", "Trace"),
			attribute.String("rpc.method", "Seen"),
		),
	)
	defer span.End()
	own := span.SpanContext()
	ro, _ := span.(sdktrace.ReadOnlySpan)
	*reply = Seen{
		Traceparent:   meta["traceparent"],
		TraceID:       sc.TraceID().String(),
		ParentID:      sc.SpanID().String(),
		Remote:        sc.IsRemote(),
		ServerTraceID: own.TraceID().String(),
		ServerSpanID:  own.SpanID().String(),
	}
	if ro != nil {
		reply.ServerParent = ro.Parent().SpanID().String()
	}
	return nil
}

func main() {
	mode := flag.String("mode", "", "client or server")
	addr := flag.String("addr", "tcp@127.0.0.1:0", "client: server to call; server: listen address (port 0 = free port)")
	timeout := flag.Duration("timeout", 10*time.Second, "client: call timeout")
	flag.Parse()
	svc.SetupLogging(false)

	otel.SetTextMapPropagator(propagation.TraceContext{})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	otel.SetTracerProvider(tp)
	tracer := tp.Tracer("gootel")

	switch *mode {
	case "client":
		os.Exit(runClient(tracer, *addr, *timeout))
	case "server":
		os.Exit(runServer(tracer, *addr))
	default:
		fmt.Fprintln(os.Stderr, "gootel: -mode client|server")
		os.Exit(2)
	}
}

func runClient(tracer trace.Tracer, addr string, timeout time.Duration) int {
	network, address := svc.SplitAddr(addr)
	opt := client.DefaultOption
	opt.SerializeType = protocol.JSON
	c := client.NewClient(opt)
	if err := c.Connect(network, address); err != nil {
		fmt.Fprintf(os.Stderr, "gootel: connect %s: %v\n", addr, err)
		return 1
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx, span := tracer.Start(ctx, "rpcx.client.Arith.Mul", trace.WithSpanKind(trace.SpanKindClient))
	meta := map[string]string{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(meta))
	ctx = context.WithValue(ctx, share.ReqMetaDataKey, meta)

	reply := &svc.Reply{}
	err := c.Call(ctx, "Arith", "Mul", &svc.Args{A: 6, B: 7}, reply)
	span.End()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gootel: call: %v\n", err)
		return 1
	}
	sc := span.SpanContext()
	fmt.Printf("GO_CLIENT_SPAN %s %s\n", sc.TraceID(), sc.SpanID())
	fmt.Printf("REPLY %d\n", reply.C)
	return 0
}

func runServer(tracer trace.Tracer, addr string) int {
	s := server.NewServer()
	if err := s.RegisterName("Trace", &Trace{tracer: tracer}, ""); err != nil {
		fmt.Fprintf(os.Stderr, "gootel: register: %v\n", err)
		return 2
	}
	network, address := svc.SplitAddr(addr)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(network, address) }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "gootel: serve: %v\n", err)
		return 1
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "gootel: server did not start")
		return 1
	}
	fmt.Printf("LISTENING %s@%s\n", network, s.Address().String())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-serveErr:
		if err != nil && !errors.Is(err, server.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "gootel: serve: %v\n", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	return 0
}
