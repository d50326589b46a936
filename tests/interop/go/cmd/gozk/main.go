// Command gozk checks ZooKeeper service discovery between the Go layout (the rpcx-zookeeper
// plugin over libkv v0.5.1's zookeeper store) and the Rust implementation. The module
// rpcx-zookeeper is not served by the module proxy here, so this program does what its
// ZooKeeperRegisterPlugin does, through the same libkv store: Put(base, "rpcx_path"),
// Put(base/Service, Service), Delete + AtomicPut(base/Service/address, metadata, TTL) (an
// ephemeral node), refreshed by Put every UpdateInterval, and Exists + Delete on stop; one
// leading '/' of the base path is dropped first, as the plugin does.
//
//	gozk -mode client -zk HOST:PORT -base P [-service Arith] [-want N] [-want-meta Q] [-timeout 20s]
//	    Lists P/service through libkv (store.List: the children of the service node) until
//	    exactly N servers are listed (N = 0: until none is), checks the base node's data
//	    (rpcx_path) and the service node's (its name) when N > 0, the metadata (-want-meta),
//	    then calls Arith.Mul 7*8 on every listed server and Arith.Add once through a Go
//	    XClient over them. Prints PASS/FAIL lines and "gozk: N passed, N failed"; exit 1 on
//	    any failure.
//	gozk -mode server -zk HOST:PORT -base P [-meta Q]
//	    A Go server with Arith, registered as the plugin does (UpdateInterval 1 min) on a free
//	    loopback port. Prints "LISTENING tcp@host:port" then "REGISTERED"; SIGINT or SIGTERM
//	    shuts it down gracefully (which deletes the node).
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
	"github.com/rpcxio/libkv/store/zookeeper"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/svc"
)

func main() {
	mode := flag.String("mode", "client", "client or server")
	addr := flag.String("zk", "127.0.0.1:2181", "zookeeper address")
	base := flag.String("base", "rpcx_test", "registry base path")
	service := flag.String("service", "Arith", "service path (client mode)")
	want := flag.Int("want", 1, "client: wait until exactly this many servers are listed")
	wantMeta := flag.String("want-meta", "", "client: metadata every listed server must have")
	meta := flag.String("meta", "lang=go", "server: metadata to register")
	timeout := flag.Duration("timeout", 20*time.Second, "client: bound of the whole check")
	verbose := flag.Bool("v", false, "rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)

	zookeeper.Register()
	kv, err := libkv.NewStore(store.ZK, []string{*addr}, &store.Config{ConnectionTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gozk: libkv zookeeper: %v\n", err)
		os.Exit(1)
	}
	defer kv.Close()
	// As the plugin: one leading '/' of the base path is dropped.
	b := strings.TrimPrefix(*base, "/")

	switch *mode {
	case "client":
		os.Exit(runClient(kv, b, *service, *want, *wantMeta, *timeout))
	case "server":
		os.Exit(runServer(kv, b, *meta))
	default:
		fmt.Fprintf(os.Stderr, "gozk: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
}

// servers lists the children of base/service as libkv returns them (Key: the child name).
func servers(kv store.Store, base, service string) ([]*client.KVPair, error) {
	ps, err := kv.List(base + "/" + service)
	if err == store.ErrKeyNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*client.KVPair
	for _, p := range ps {
		out = append(out, &client.KVPair{Key: p.Key, Value: string(p.Value)})
	}
	return out, nil
}

func runClient(kv store.Store, base, service string, want int, wantMeta string, timeout time.Duration) int {
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
	defer func() { fmt.Printf("gozk: %d passed, %d failed\n", passed, failed) }()

	deadline := time.Now().Add(timeout)
	var pairs []*client.KVPair
	var err error
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
	if want > 0 {
		bp, err := kv.Get(base)
		report(err == nil && string(bp.Value) == "rpcx_path", "base node", "%s = %q, err %v", base, value(bp), err)
		sp, err := kv.Get(base + "/" + service)
		report(err == nil && string(sp.Value) == service, "service node", "%s/%s = %q, err %v", base, service, value(sp), err)
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

func value(p *store.KVPair) string {
	if p == nil {
		return ""
	}
	return string(p.Value)
}

// register is the plugin's Register: base and service nodes, then the ephemeral server node.
func register(kv store.Store, base, name, address, meta string, interval time.Duration) error {
	if err := kv.Put(base, []byte("rpcx_path"), &store.WriteOptions{IsDir: true}); err != nil {
		return fmt.Errorf("put %s: %w", base, err)
	}
	if err := kv.Put(base+"/"+name, []byte(name), &store.WriteOptions{IsDir: true}); err != nil {
		return fmt.Errorf("put %s/%s: %w", base, name, err)
	}
	node := base + "/" + name + "/" + address
	_ = kv.Delete(node)
	if _, _, err := kv.AtomicPut(node, []byte(meta), nil, &store.WriteOptions{TTL: interval * 2}); err != nil {
		return fmt.Errorf("atomic put %s: %w", node, err)
	}
	return nil
}

func runServer(kv store.Store, base, meta string) int {
	// The plugin needs ServiceAddress before Register: take a free port, release it, serve on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "gozk: %v\n", err)
		return 1
	}
	local := l.Addr().String()
	l.Close()
	address := "tcp@" + local
	interval := time.Minute

	s := server.NewServer()
	if err := s.RegisterName("Arith", new(svc.Arith), meta); err != nil {
		fmt.Fprintf(os.Stderr, "gozk: register: %v\n", err)
		return 1
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve("tcp", local) }()
	select {
	case <-s.Started:
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "gozk: serve: %v\n", err)
		return 1
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "gozk: server did not start within 10s")
		return 1
	}
	fmt.Printf("LISTENING %s\n", address)
	if err := register(kv, base, "Arith", address, meta, interval); err != nil {
		fmt.Fprintf(os.Stderr, "gozk: %v\n", err)
		return 1
	}
	fmt.Println("REGISTERED")
	_ = os.Stdout.Sync()

	// The plugin's refresh: Put every UpdateInterval with a TTL (re-creates a lost node).
	node := base + "/Arith/" + address
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	for done := false; !done; {
		select {
		case <-sig:
			done = true
		case <-ticker.C:
			_ = kv.Put(node, []byte(meta), &store.WriteOptions{TTL: interval * 2})
		case err := <-serveErr:
			fmt.Fprintf(os.Stderr, "gozk: serve: %v\n", err)
			return 1
		}
	}
	// The plugin's Stop: delete the node if it exists.
	if ok, err := kv.Exists(node); err == nil && ok {
		_ = kv.Delete(node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	return 0
}
