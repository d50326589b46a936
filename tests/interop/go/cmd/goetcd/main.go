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
	"fmt"
	"os"
	"time"

	etcdclient "github.com/rpcxio/rpcx-etcd/client"
	"github.com/rpcxio/rpcx-etcd/serverplugin"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/regcheck"
)

func main() {
	f := regcheck.ParseFlags("etcd", "http://127.0.0.1:2379", "etcd endpoint", "/rpcx_test")
	regcheck.Dispatch("goetcd", f.Mode, func() int { return runClient(f) }, func() int { return runServer(f) })
}

func runClient(f *regcheck.Flags) int {
	r := regcheck.NewReport("goetcd")
	defer r.Summary()

	d, err := etcdclient.NewEtcdV3Discovery(f.Base, f.Service, []string{f.Store}, true, nil)
	if err != nil {
		r.Check(false, "discovery", "NewEtcdV3Discovery: %v", err)
		return 1
	}
	defer d.Close()
	return regcheck.CheckServers(r, f, regcheck.Target{
		List: func() ([]*client.KVPair, error) { return d.GetServices(), nil },
		// And once through the etcd discovery itself.
		Discovery: func([]*client.KVPair) client.ServiceDiscovery { return d },
		Via:       "via EtcdV3Discovery",
	})
}

func runServer(f *regcheck.Flags) int {
	addr, err := regcheck.FreeAddr()
	if err != nil {
		fmt.Fprintf(os.Stderr, "goetcd: %v\n", err)
		return 1
	}
	s := server.NewServer()
	p := &serverplugin.EtcdV3RegisterPlugin{
		ServiceAddress: "tcp@" + addr,
		EtcdServers:    []string{f.Store},
		BasePath:       f.Base,
		UpdateInterval: time.Minute,
	}
	if err := p.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "goetcd: etcd plugin: %v\n", err)
		return 1
	}
	s.Plugins.Add(p)
	serveErr := regcheck.ServeArith("goetcd", s, addr, f.Meta)
	if serveErr == nil {
		return 1
	}
	fmt.Printf("LISTENING tcp@%s\nREGISTERED\n", addr)
	_ = os.Stdout.Sync()
	if !regcheck.AwaitStop("goetcd", serveErr, 0, nil) {
		return 1
	}
	regcheck.Shutdown(s)
	return 0
}
