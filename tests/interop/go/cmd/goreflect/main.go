// Command goreflect is the reflection interop peer (tests/interop/run_reflect.sh).
//
// -mode server: a Go rpcx server with Go's reflection plugin (github.com/smallnest/rpcx/
// reflection), registered as the rpcx examples do (s.Plugins.Add(p), then s.Register(p, ""),
// so the service is "Reflection"), and the interop services (Arith, ProtoArith, Hello). It
// prints "LISTENING tcp@<address>" once it accepts connections and serves until SIGINT/SIGTERM.
//
// -mode client: Go's client calls Reflection.GetServices ("" argument) and, with -service,
// Reflection.GetService(<name>) on -addr with the -codec serialization, decoding each reply
// into a Go string as Go's own callers do. It prints "== GetServices", the text, then
// "== GetService <name>" and the text (or "error: <text>" and exit status 1).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/reflection"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/svc"
)

func main() {
	mode := flag.String("mode", "server", "server or client")
	addr := flag.String("addr", "tcp@127.0.0.1:0", "server: listen address; client: the server's address")
	codec := flag.String("codec", "json", "client: json or msgpack")
	service := flag.String("service", "", "client: also call GetService with this name")
	flag.Parse()
	svc.SetupLogging(false)
	switch *mode {
	case "server":
		serve(*addr)
	case "client":
		os.Exit(query(*addr, *codec, *service))
	default:
		fmt.Fprintf(os.Stderr, "goreflect: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
}

func serve(addr string) {
	s := server.NewServer()
	p := reflection.New()
	s.Plugins.Add(p)
	if err := svc.RegisterAll(s); err != nil {
		fmt.Fprintf(os.Stderr, "goreflect: register: %v\n", err)
		os.Exit(2)
	}
	if err := s.Register(p, ""); err != nil {
		fmt.Fprintf(os.Stderr, "goreflect: register reflection: %v\n", err)
		os.Exit(2)
	}
	network, address := svc.SplitAddr(addr)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(network, address) }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "goreflect: serve: %v\n", err)
		os.Exit(1)
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "goreflect: server did not start within 10s")
		os.Exit(1)
	}
	fmt.Printf("LISTENING %s@%s\n", network, s.Address().String())
	_ = os.Stdout.Sync()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-serveErr:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}

func query(addr, codec, service string) int {
	opt := client.DefaultOption
	switch codec {
	case "json":
		opt.SerializeType = protocol.JSON
	case "msgpack":
		opt.SerializeType = protocol.MsgPack
	default:
		fmt.Fprintf(os.Stderr, "goreflect: unknown -codec %q\n", codec)
		return 2
	}
	network, address := svc.SplitAddr(addr)
	c := client.NewClient(opt)
	if err := c.Connect(network, address); err != nil {
		fmt.Printf("error: connect: %v\n", err)
		return 1
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var all string
	if err := c.Call(ctx, "Reflection", "GetServices", "", &all); err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	fmt.Printf("== GetServices\n%s\n", all)
	if service == "" {
		return 0
	}
	var one string
	if err := c.Call(ctx, "Reflection", "GetService", service, &one); err != nil {
		fmt.Printf("== GetService %s\nerror: %v\n", service, err)
		return 1
	}
	fmt.Printf("== GetService %s\n%s\n", service, one)
	return 0
}
