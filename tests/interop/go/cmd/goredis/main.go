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
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rpcxio/libkv"
	"github.com/rpcxio/libkv/store"
	"github.com/rpcxio/libkv/store/redis"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"
	"github.com/smallnest/rpcx/serverplugin"

	"rpcx-interop/internal/regcheck"
)

func main() {
	f := regcheck.ParseFlags("redis", "127.0.0.1:6379", "redis address", "rpcx_test")
	regcheck.Dispatch("goredis", f.Mode, func() int { return runClient(f) }, func() int { return runServer(f) })
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

func runClient(f *regcheck.Flags) int {
	r := regcheck.NewReport("goredis")
	defer r.Summary()

	redis.Register()
	kv, err := libkv.NewStore(store.REDIS, []string{f.Store}, nil)
	if err != nil {
		r.Check(false, "store", "libkv redis: %v", err)
		return 1
	}
	defer kv.Close()
	return regcheck.CheckServers(r, f, regcheck.Target{
		List:        func() ([]*client.KVPair, error) { return servers(kv, f.Base, f.Service) },
		ListCanFail: true,
		Discovery: func(pairs []*client.KVPair) client.ServiceDiscovery {
			d, _ := client.NewMultipleServersDiscovery(pairs)
			return d
		},
		Via: "over the listed servers",
	})
}

func runServer(f *regcheck.Flags) int {
	local, err := regcheck.FreeAddr()
	if err != nil {
		fmt.Fprintf(os.Stderr, "goredis: %v\n", err)
		return 1
	}
	s := server.NewServer()
	p := &serverplugin.RedisRegisterPlugin{
		ServiceAddress: "tcp@" + local,
		RedisServers:   []string{f.Store},
		BasePath:       f.Base,
		UpdateInterval: time.Minute,
	}
	if err := p.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "goredis: redis plugin: %v\n", err)
		return 1
	}
	s.Plugins.Add(p)
	serveErr := regcheck.ServeArith("goredis", s, local, f.Meta)
	if serveErr == nil {
		return 1
	}
	fmt.Printf("LISTENING tcp@%s\nREGISTERED\n", local)
	_ = os.Stdout.Sync()
	if !regcheck.AwaitStop("goredis", serveErr, 0, nil) {
		return 1
	}
	regcheck.Shutdown(s)
	return 0
}
