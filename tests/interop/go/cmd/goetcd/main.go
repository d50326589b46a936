// Command goetcd checks etcd service discovery between the Go reference (rpcx v1.9.4 with
// the github.com/rpcxio/rpcx-etcd v0.3.2 plugin and discovery) and the Rust implementation.
//
//	goetcd -mode client -etcd URL -base P [-service Arith] [-want N] [-want-meta Q] [-timeout 20s]
//	    Go EtcdV3Discovery of P/service: waits until exactly N servers are listed (N = 0:
//	    until the list is empty), checks their metadata (-want-meta), then calls Arith.Mul
//	    7*8 on every listed server through a Go XClient. Prints PASS/FAIL lines and
//	    "goetcd: N passed, N failed"; exit 1 on any failure.
//	goetcd -mode server -etcd URL -base P [-meta Q]
//	    A Go server with Arith, registered by EtcdV3RegisterPlugin on a free loopback port.
//	    Prints "LISTENING tcp@host:port" then "REGISTERED"; SIGINT/SIGTERM shuts it down
//	    gracefully (which unregisters: the node key is deleted).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	etcdclient "github.com/rpcxio/rpcx-etcd/client"
	"github.com/rpcxio/rpcx-etcd/serverplugin"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/svc"
)

func main() {
	mode := flag.String("mode", "client", "client or server")
	etcd := flag.String("etcd", "http://127.0.0.1:2379", "etcd endpoint")
	base := flag.String("base", "/rpcx_test", "registry base path")
	service := flag.String("service", "Arith", "service path (client mode)")
	want := flag.Int("want", 1, "client: wait until exactly this many servers are listed")
	wantMeta := flag.String("want-meta", "", "client: metadata every listed server must have")
	meta := flag.String("meta", "lang=go", "server: metadata to register")
	timeout := flag.Duration("timeout", 20*time.Second, "client: bound of the whole check")
	verbose := flag.Bool("v", false, "rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)

	switch *mode {
	case "client":
		os.Exit(runClient(*etcd, *base, *service, *want, *wantMeta, *timeout))
	case "server":
		os.Exit(runServer(*etcd, *base, *meta))
	default:
		fmt.Fprintf(os.Stderr, "goetcd: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
}

func runClient(etcd, base, service string, want int, wantMeta string, timeout time.Duration) int {
	passed, failed := 0, 0
	report := func(ok bool, name, format string, a ...interface{}) {
		if ok {
			passed++
			fmt.Printf("PASS %s: %s\n", name, fmt.Sprintf(format, a...))
		} else {
			failed++
			fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, a...))
		}
	}
	defer func() { fmt.Printf("goetcd: %d passed, %d failed\n", passed, failed) }()

	d, err := etcdclient.NewEtcdV3Discovery(base, service, []string{etcd}, true, nil)
	if err != nil {
		report(false, "discovery", "NewEtcdV3Discovery: %v", err)
		return 1
	}
	defer d.Close()
	deadline := time.Now().Add(timeout)
	var pairs []*client.KVPair
	for {
		pairs = d.GetServices()
		if len(pairs) == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	keys := make([]string, 0, len(pairs))
	for _, p := range pairs {
		keys = append(keys, p.Key+" "+p.Value)
	}
	sort.Strings(keys)
	report(len(pairs) == want, "discover", "want %d servers under %s/%s, got %v", want, base, service, keys)
	if len(pairs) != want {
		return 1
	}
	for _, p := range pairs {
		if wantMeta != "" {
			report(p.Value == wantMeta, "metadata", "%s: %q (want %q)", p.Key, p.Value, wantMeta)
		}
		// One XClient per listed server (peer-to-peer), so every server is called.
		p2p, _ := client.NewPeer2PeerDiscovery(p.Key, "")
		xc := client.NewXClient(service, client.Failfast, client.RoundRobin, p2p, client.DefaultOption)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply := &svc.Reply{}
		err := xc.Call(ctx, "Mul", &svc.Args{A: 7, B: 8}, reply)
		cancel()
		xc.Close()
		report(err == nil && reply.C == 56, "call", "%s %s.Mul(7,8) = %d, err %v", p.Key, service, reply.C, err)
	}
	if want > 0 {
		// And once through the etcd discovery itself.
		xc := client.NewXClient(service, client.Failover, client.RandomSelect, d, client.DefaultOption)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply := &svc.Reply{}
		err := xc.Call(ctx, "Add", &svc.Args{A: 2, B: 3}, reply)
		cancel()
		report(err == nil && reply.C == 5, "xclient", "%s.Add(2,3) via EtcdV3Discovery = %d, err %v", service, reply.C, err)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func runServer(etcd, base, meta string) int {
	// rpcx needs ServiceAddress before Register: take a free port, release it, serve on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "goetcd: %v\n", err)
		return 1
	}
	addr := l.Addr().String()
	l.Close()

	s := server.NewServer()
	p := &serverplugin.EtcdV3RegisterPlugin{
		ServiceAddress: "tcp@" + addr,
		EtcdServers:    []string{etcd},
		BasePath:       base,
		UpdateInterval: time.Minute,
	}
	if err := p.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "goetcd: etcd plugin: %v\n", err)
		return 1
	}
	s.Plugins.Add(p)
	if err := s.RegisterName("Arith", new(svc.Arith), meta); err != nil {
		fmt.Fprintf(os.Stderr, "goetcd: register: %v\n", err)
		return 1
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve("tcp", addr) }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "goetcd: serve: %v\n", err)
		return 1
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "goetcd: server did not start within 10s")
		return 1
	}
	fmt.Printf("LISTENING tcp@%s\nREGISTERED\n", addr)
	_ = os.Stdout.Sync()

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "goetcd: serve: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	return 0
}
