// Command goserver runs the real Go rpcx server with the interop services
// (Arith, ProtoArith, Hello). It prints exactly one line
// "LISTENING <network>@<address>" on stdout once it accepts connections, then
// serves until SIGINT/SIGTERM and shuts down gracefully.
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

	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/svc"
)

func main() {
	addr := flag.String("addr", "tcp@127.0.0.1:0", "listen address: tcp@host:port, unix@/path, or http@/ws@host:port (Go's Serve(\"http\"/\"ws\"): rpcx only inside CONNECT /_rpcx_ or a WebSocket at /_rpcx_); port 0 = pick a free port")
	auth := flag.String("auth", "", "if set, every request must carry metadata __AUTH equal to this token (else error \"invalid token\")")
	asyncWrite := flag.Bool("async-write", false, "enable server.WithAsyncWrite()")
	quiet := flag.Bool("quiet", false, "no log output at all (rpcx logging is off unless -v anyway)")
	verbose := flag.Bool("v", false, "enable rpcx logging on stderr")
	tlsCert := flag.String("tls-cert", "", "serve TLS with this PEM certificate file (with -tls-key)")
	tlsKey := flag.String("tls-key", "", "PEM private key file of -tls-cert")
	tlsClientCA := flag.String("tls-client-ca", "", "mutual TLS: require client certificates signed by this PEM CA file")
	flag.Parse()

	svc.SetupLogging(*verbose && !*quiet)
	logf := func(format string, a ...interface{}) {
		if !*quiet {
			fmt.Fprintf(os.Stderr, "goserver: "+format+"\n", a...)
		}
	}

	var opts []server.OptionFn
	if *asyncWrite {
		opts = append(opts, server.WithAsyncWrite())
	}
	tlsConfig, err := svc.ServerTLS(*tlsCert, *tlsKey, *tlsClientCA)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(2)
	}
	if tlsConfig != nil {
		opts = append(opts, server.WithTLSConfig(tlsConfig))
	}
	s := server.NewServer(opts...)
	if *auth != "" {
		token := *auth
		s.AuthFunc = func(ctx context.Context, req *protocol.Message, t string) error {
			if t == token {
				return nil
			}
			return errors.New(svc.ErrInvalidToken)
		}
	}
	if err := svc.RegisterAll(s); err != nil {
		fmt.Fprintf(os.Stderr, "goserver: register: %v\n", err)
		os.Exit(2)
	}

	network, address := svc.SplitAddr(*addr)
	if network == "unix" {
		_ = os.Remove(address)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(network, address) }()

	// Serve("http"/"ws"/"wss") never closes s.Started (only the tcp path does): there the
	// listener's address is polled until Serve has stored it.
	started := s.Started
	if network == "http" || network == "ws" || network == "wss" {
		ch := make(chan struct{})
		go func() {
			for s.Address() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			close(ch)
		}()
		started = ch
	}
	select {
	case <-started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "goserver: serve: %v\n", err)
		os.Exit(1)
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "goserver: server did not start within 10s")
		os.Exit(1)
	}
	a := s.Address()
	if a == nil {
		fmt.Fprintln(os.Stderr, "goserver: no listen address")
		os.Exit(1)
	}
	fmt.Fprintf(os.Stdout, "LISTENING %s@%s\n", network, a.String())
	_ = os.Stdout.Sync()
	logf("serving %s@%s (auth=%v async-write=%v tls=%v mtls=%v)", network, a.String(), *auth != "", *asyncWrite, tlsConfig != nil, *tlsClientCA != "")

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case got := <-sig:
		logf("got %v, shutting down", got)
	case err := <-serveErr:
		if err != nil && !errors.Is(err, server.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "goserver: serve: %v\n", err)
			os.Exit(1)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		logf("shutdown: %v", err)
	}
	if network == "unix" {
		_ = os.Remove(address)
	}
}
