// Package regcheck holds what the registry interop commands (goetcd, goredis, gozk) share:
// their command line, the PASS/FAIL report of the client mode, the client check itself
// (wait for the listed servers, check their metadata, call each one and once through a Go
// XClient over them) and the pieces of the server mode (a free loopback port, Arith served
// and started, a graceful stop on SIGINT/SIGTERM). What differs per store (how servers are
// listed and registered) stays in each command.
package regcheck

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

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/server"

	"rpcx-interop/internal/svc"
)

// Flags is the command line shared by the registry commands.
type Flags struct {
	// Mode is "client" or "server".
	Mode string
	// Store is the address of the store (the flag named by ParseFlags).
	Store string
	// Base is the registry base path.
	Base string
	// Service is the service path the client mode lists and calls.
	Service string
	// Want is how many servers the client mode waits for (0: until none is listed).
	Want int
	// WantMeta is the metadata every listed server must have ("": not checked).
	WantMeta string
	// Meta is the metadata the server mode registers.
	Meta string
	// Timeout bounds the client mode's wait for the servers.
	Timeout time.Duration
}

// ParseFlags parses the command line (the store's address under -storeFlag, with its
// default and help text, and -base defaulting to baseDefault) and sets up rpcx logging
// (-v).
func ParseFlags(storeFlag, storeDefault, storeHelp, baseDefault string) *Flags {
	f := &Flags{}
	flag.StringVar(&f.Mode, "mode", "client", "client or server")
	flag.StringVar(&f.Store, storeFlag, storeDefault, storeHelp)
	flag.StringVar(&f.Base, "base", baseDefault, "registry base path")
	flag.StringVar(&f.Service, "service", "Arith", "service path (client mode)")
	flag.IntVar(&f.Want, "want", 1, "client: wait until exactly this many servers are listed")
	flag.StringVar(&f.WantMeta, "want-meta", "", "client: metadata every listed server must have")
	flag.StringVar(&f.Meta, "meta", "lang=go", "server: metadata to register")
	flag.DurationVar(&f.Timeout, "timeout", 20*time.Second, "client: bound of the whole check")
	verbose := flag.Bool("v", false, "rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)
	return f
}

// Dispatch exits with the status of runClient or runServer as -mode says, or with 2 (after
// printing "<prog>: unknown -mode") for any other mode.
func Dispatch(prog, mode string, runClient, runServer func() int) {
	switch mode {
	case "client":
		os.Exit(runClient())
	case "server":
		os.Exit(runServer())
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown -mode %q\n", prog, mode)
		os.Exit(2)
	}
}

// Report counts and prints the client mode's checks: "PASS name: text" or "FAIL name: text",
// and at the end "<prog>: N passed, N failed".
type Report struct {
	prog           string
	passed, failed int
}

// NewReport starts the report of command prog.
func NewReport(prog string) *Report { return &Report{prog: prog} }

// Check records and prints one check.
func (r *Report) Check(ok bool, name, format string, a ...interface{}) {
	verdict := "PASS"
	if ok {
		r.passed++
	} else {
		r.failed++
		verdict = "FAIL"
	}
	fmt.Printf("%s %s: %s\n", verdict, name, fmt.Sprintf(format, a...))
}

// Summary prints the counts (deferred by the client modes, so printed on every return).
func (r *Report) Summary() { fmt.Printf("%s: %d passed, %d failed\n", r.prog, r.passed, r.failed) }

// Status is the exit status: 1 after any failed check, else 0.
func (r *Report) Status() int {
	if r.failed > 0 {
		return 1
	}
	return 0
}

// Target is what the client check needs of one store.
type Target struct {
	// List lists the servers of Flags.Service (Key: the server address, Value: its metadata).
	List func() ([]*client.KVPair, error)
	// ListCanFail says List may return an error, which the "discover" check then shows.
	ListCanFail bool
	// AfterDiscover, if set, makes more checks once the wanted servers (at least one) are
	// listed, before they are called.
	AfterDiscover func(r *Report)
	// Discovery is the discovery of the final Arith.Add call over the listed servers.
	Discovery func(pairs []*client.KVPair) client.ServiceDiscovery
	// Via names that discovery in the "xclient" check ("via EtcdV3Discovery").
	Via string
}

// CheckServers polls t.List every 50 ms until exactly f.Want servers are listed (bounded by
// f.Timeout), checks their metadata against f.WantMeta, calls f.Service.Mul(7,8) on each
// listed server and f.Service.Add(2,3) once through an XClient over t.Discovery. Returns the
// exit status.
func CheckServers(r *Report, f *Flags, t Target) int {
	deadline := time.Now().Add(f.Timeout)
	var pairs []*client.KVPair
	var err error
	for {
		pairs, err = t.List()
		if (err == nil && len(pairs) == f.Want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	keys := make([]string, 0, len(pairs))
	for _, p := range pairs {
		keys = append(keys, p.Key+" "+p.Value)
	}
	sort.Strings(keys)
	got := fmt.Sprintf("want %d servers under %s/%s, got %v", f.Want, f.Base, f.Service, keys)
	if t.ListCanFail {
		got += fmt.Sprintf(" (err %v)", err)
	}
	r.Check(err == nil && len(pairs) == f.Want, "discover", "%s", got)
	if len(pairs) != f.Want {
		return 1
	}
	if f.Want > 0 && t.AfterDiscover != nil {
		t.AfterDiscover(r)
	}
	for _, p := range pairs {
		if f.WantMeta != "" {
			r.Check(p.Value == f.WantMeta, "metadata", "%s: %q (want %q)", p.Key, p.Value, f.WantMeta)
		}
		// One XClient per listed server (peer-to-peer), so every server is called.
		p2p, _ := client.NewPeer2PeerDiscovery(p.Key, "")
		reply, err := call(p2p, f.Service, client.Failfast, client.RoundRobin, "Mul", 7, 8)
		r.Check(err == nil && reply == 56, "call", "%s %s.Mul(7,8) = %d, err %v", p.Key, f.Service, reply, err)
	}
	if f.Want > 0 {
		reply, err := call(t.Discovery(pairs), f.Service, client.Failover, client.RandomSelect, "Add", 2, 3)
		r.Check(err == nil && reply == 5, "xclient", "%s.Add(2,3) %s = %d, err %v", f.Service, t.Via, reply, err)
	}
	return r.Status()
}

// call makes one call of service.method(a, b) within 5 s through a fresh XClient on d.
func call(d client.ServiceDiscovery, service string, fm client.FailMode, sm client.SelectMode, method string, a, b int) (int, error) {
	xc := client.NewXClient(service, fm, sm, d, client.DefaultOption)
	defer xc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply := &svc.Reply{}
	err := xc.Call(ctx, method, &svc.Args{A: a, B: b}, reply)
	return reply.C, err
}

// FreeAddr takes a free loopback port and releases it ("127.0.0.1:port"): a registry
// needs the service address before the server serves on it.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ServeArith registers svc.Arith as "Arith" with meta on s, serves it on local and waits
// (≤ 10 s) until it has started. Returns the channel of Serve's result, or nil after
// printing "<prog>: …" on stderr when registering, serving or starting failed.
func ServeArith(prog string, s *server.Server, local, meta string) <-chan error {
	if err := s.RegisterName("Arith", new(svc.Arith), meta); err != nil {
		fmt.Fprintf(os.Stderr, "%s: register: %v\n", prog, err)
		return nil
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve("tcp", local) }()
	select {
	case <-s.Started:
		return serveErr
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "%s: serve: %v\n", prog, err)
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "%s: server did not start within 10s\n", prog)
	}
	return nil
}

// AwaitStop waits for SIGINT or SIGTERM (true) or the end of Serve (false, after printing
// "<prog>: serve: …" on stderr). With a non-nil tick, calls it every interval meanwhile.
func AwaitStop(prog string, serveErr <-chan error, interval time.Duration, tick func()) bool {
	var ticks <-chan time.Time
	if tick != nil {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		ticks = ticker.C
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	for {
		select {
		case <-sig:
			return true
		case <-ticks:
			tick()
		case err := <-serveErr:
			fmt.Fprintf(os.Stderr, "%s: serve: %v\n", prog, err)
			return false
		}
	}
}

// Shutdown shuts s down gracefully within 5 s (which runs the registry plugins' unregister).
func Shutdown(s *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}
