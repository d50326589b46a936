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
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rpcxio/libkv"
	"github.com/rpcxio/libkv/store"
	"github.com/rpcxio/libkv/store/zookeeper"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/regcheck"
)

func main() {
	f := regcheck.ParseFlags("zk", "127.0.0.1:2181", "zookeeper address", "rpcx_test")

	zookeeper.Register()
	kv, err := libkv.NewStore(store.ZK, []string{f.Store}, &store.Config{ConnectionTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gozk: libkv zookeeper: %v\n", err)
		os.Exit(1)
	}
	defer kv.Close()
	// As the plugin: one leading '/' of the base path is dropped.
	f.Base = strings.TrimPrefix(f.Base, "/")

	regcheck.Dispatch("gozk", f.Mode, func() int { return runClient(kv, f) }, func() int { return runServer(kv, f) })
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

func runClient(kv store.Store, f *regcheck.Flags) int {
	r := regcheck.NewReport("gozk")
	defer r.Summary()

	base, service := f.Base, f.Service
	return regcheck.CheckServers(r, f, regcheck.Target{
		List:        func() ([]*client.KVPair, error) { return servers(kv, base, service) },
		ListCanFail: true,
		AfterDiscover: func(r *regcheck.Report) {
			bp, err := kv.Get(base)
			r.Check(err == nil && string(bp.Value) == "rpcx_path", "base node", "%s = %q, err %v", base, value(bp), err)
			sp, err := kv.Get(base + "/" + service)
			r.Check(err == nil && string(sp.Value) == service, "service node", "%s/%s = %q, err %v", base, service, value(sp), err)
		},
		Discovery: func(pairs []*client.KVPair) client.ServiceDiscovery {
			d, _ := client.NewMultipleServersDiscovery(pairs)
			return d
		},
		Via: "over the listed servers",
	})
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

func runServer(kv store.Store, f *regcheck.Flags) int {
	// The plugin needs ServiceAddress before Register: take a free port, release it, serve on it.
	local, err := regcheck.FreeAddr()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gozk: %v\n", err)
		return 1
	}
	address := "tcp@" + local
	interval := time.Minute

	s := server.NewServer()
	serveErr := regcheck.ServeArith("gozk", s, local, f.Meta)
	if serveErr == nil {
		return 1
	}
	fmt.Printf("LISTENING %s\n", address)
	if err := register(kv, f.Base, "Arith", address, f.Meta, interval); err != nil {
		fmt.Fprintf(os.Stderr, "gozk: %v\n", err)
		return 1
	}
	fmt.Println("REGISTERED")
	_ = os.Stdout.Sync()

	// The plugin's refresh: Put every UpdateInterval with a TTL (re-creates a lost node).
	node := f.Base + "/Arith/" + address
	refresh := func() { _ = kv.Put(node, []byte(f.Meta), &store.WriteOptions{TTL: interval * 2}) }
	if !regcheck.AwaitStop("gozk", serveErr, interval, refresh) {
		return 1
	}
	// The plugin's Stop: delete the node if it exists.
	if ok, err := kv.Exists(node); err == nil && ok {
		_ = kv.Delete(node)
	}
	regcheck.Shutdown(s)
	return 0
}
