// Command goredis checks Redis service discovery between the Go reference (rpcx v1.9.4's
// serverplugin.RedisRegisterPlugin over libkv v0.5.1's redis store) and the Rust
// implementation. rpcx v1.9.4 ships no Redis discovery of its own, so the client mode reads
// the keys through the same libkv redis store the plugin writes with.
//
//	goredis -mode client -redis HOST:PORT -base P [-service Arith] [-want N] [-want-meta Q] [-timeout 20s]
//	    Lists P/service through libkv (store.List), keeping the keys one level below it,
//	    until exactly N servers are listed (N = 0: until none is), checks their metadata
//	    (-want-meta), then calls Arith.Mul 7*8 on every listed server and Arith.Add once
//	    through a Go XClient over them. Prints PASS/FAIL lines and "goredis: N passed, N
//	    failed"; exit 1 on any failure.
//	goredis -mode server -redis HOST:PORT -base P [-meta Q]
//	    A Go server with Arith, registered by RedisRegisterPlugin (UpdateInterval 1 min) on a
//	    free loopback port. Prints "LISTENING tcp@host:port" then "REGISTERED"; SIGINT or
//	    SIGTERM shuts it down gracefully (which deletes the node key).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rpcxio/libkv"
	"github.com/rpcxio/libkv/store"
	"github.com/rpcxio/libkv/store/redis"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"
	"github.com/smallnest/rpcx/serverplugin"

	"rpcx-interop/internal/svc"
)

func main() {
	mode := flag.String("mode", "client", "client or server")
	addr := flag.String("redis", "127.0.0.1:6379", "redis address")
	base := flag.String("base", "rpcx_test", "registry base path")
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
		os.Exit(runClient(*addr, *base, *service, *want, *wantMeta, *timeout))
	case "server":
		os.Exit(runServer(*addr, *base, *meta))
	default:
		fmt.Fprintf(os.Stderr, "goredis: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
}

// servers lists the servers of base/service as libkv returns them: the keys (as the
// writer spelled them, in the KVPair JSON) under the service key, with the part after it
// as the server address (which may hold '/': unix@/path).
func servers(kv store.Store, base, service string) ([]*client.KVPair, error) {
	dir := base + "/" + service
	ps, err := kv.List(dir)
	if err == store.ErrKeyNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*client.KVPair
	for _, p := range ps {
		k, ok := strings.CutPrefix(p.Key, dir+"/")
		if !ok || k == "" {
			continue // the service key itself, or a sibling service (Arith2)
		}
		out = append(out, &client.KVPair{Key: k, Value: string(p.Value)})
	}
	return out, nil
}

func runClient(addr, base, service string, want int, wantMeta string, timeout time.Duration) int {
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
	defer func() { fmt.Printf("goredis: %d passed, %d failed\n", passed, failed) }()

	redis.Register()
	kv, err := libkv.NewStore(store.REDIS, []string{addr}, nil)
	if err != nil {
		report(false, "store", "libkv redis: %v", err)
		return 1
	}
	defer kv.Close()
	deadline := time.Now().Add(timeout)
	var pairs []*client.KVPair
	for {
		pairs, err = servers(kv, base, service)
		if (err == nil && len(pairs) == want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	keys := make([]string, 0, len(pairs))
	for _, p := range pairs {
		keys = append(keys, p.Key+" "+p.Value)
	}
	sort.Strings(keys)
	report(err == nil && len(pairs) == want, "discover", "want %d servers under %s/%s, got %v (err %v)", want, base, service, keys, err)
	if len(pairs) != want {
		return 1
	}
	for _, p := range pairs {
		if wantMeta != "" {
			report(p.Value == wantMeta, "metadata", "%s: %q (want %q)", p.Key, p.Value, wantMeta)
		}
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
		d, _ := client.NewMultipleServersDiscovery(pairs)
		xc := client.NewXClient(service, client.Failover, client.RandomSelect, d, client.DefaultOption)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply := &svc.Reply{}
		err := xc.Call(ctx, "Add", &svc.Args{A: 2, B: 3}, reply)
		cancel()
		xc.Close()
		report(err == nil && reply.C == 5, "xclient", "%s.Add(2,3) over the listed servers = %d, err %v", service, reply.C, err)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func runServer(addr, base, meta string) int {
	// rpcx needs ServiceAddress before Register: take a free port, release it, serve on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "goredis: %v\n", err)
		return 1
	}
	local := l.Addr().String()
	l.Close()

	s := server.NewServer()
	p := &serverplugin.RedisRegisterPlugin{
		ServiceAddress: "tcp@" + local,
		RedisServers:   []string{addr},
		BasePath:       base,
		UpdateInterval: time.Minute,
	}
	if err := p.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "goredis: redis plugin: %v\n", err)
		return 1
	}
	s.Plugins.Add(p)
	if err := s.RegisterName("Arith", new(svc.Arith), meta); err != nil {
		fmt.Fprintf(os.Stderr, "goredis: register: %v\n", err)
		return 1
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve("tcp", local) }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "goredis: serve: %v\n", err)
		return 1
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "goredis: server did not start within 10s")
		return 1
	}
	fmt.Printf("LISTENING tcp@%s\nREGISTERED\n", local)
	_ = os.Stdout.Sync()

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "goredis: serve: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	return 0
}
