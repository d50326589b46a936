// Command benchserver is the Go reference server of the benchmark workload
// (github.com/rpcxio/rpcx-benchmark; docs/benchmarks.md): service Hello.Say over protobuf, asynchronous
// writes on, logging off. It prints "LISTENING <network>@<address>" once
// listening and serves until SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/svc"
)

func main() {
	addr := flag.String("addr", "tcp@127.0.0.1:0", "listen address network@host:port (port 0 = pick a free port)")
	verbose := flag.Bool("v", false, "enable rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)

	s := server.NewServer(server.WithAsyncWrite())
	if err := s.RegisterName("Hello", new(svc.Hello), ""); err != nil {
		fmt.Fprintf(os.Stderr, "benchserver: register: %v\n", err)
		os.Exit(2)
	}
	network, address := svc.SplitAddr(*addr)
	if network == "unix" {
		_ = os.Remove(address)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(network, address) }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "benchserver: serve: %v\n", err)
		os.Exit(1)
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "benchserver: server did not start within 10s")
		os.Exit(1)
	}
	fmt.Fprintf(os.Stdout, "LISTENING %s@%s\n", network, s.Address().String())
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
	if network == "unix" {
		_ = os.Remove(address)
	}
}
