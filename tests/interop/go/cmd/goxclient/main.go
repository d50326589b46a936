// Command goxclient drives the real Go XClient (MultipleServersDiscovery,
// RoundRobin + Failover) over a mix of Go and Rust servers, making calls from
// several goroutines for a bounded time while the caller kills servers
// (tests/interop/run_matrix.sh kills one Rust and one Go server with SIGKILL).
//
// Calls alternate Arith.Mul(i, 3) (result checked) and Arith.Meta with a
// metadata pair (echo checked; the Go client reports the answering server in
// __ServerAddress, which gives the per-server counts). It prints one line
//
//	xclient: calls=N failed=N per-server=name:n,... [first_error="..."]
//
// and exits 1 if any call failed or a server never answered, 2 on usage errors.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/share"

	"rpcx-interop/internal/svc"
)

func main() {
	servers := flag.String("servers", "", "comma separated name=network@host:port list (required)")
	duration := flag.Duration("duration", 4*time.Second, "how long to keep calling")
	workers := flag.Int("workers", 4, "concurrent callers")
	pause := flag.Duration("pause", time.Millisecond, "pause between two calls of one caller")
	retries := flag.Int("retries", 32, "Option.Retries (Failover)")
	callTimeout := flag.Duration("call-timeout", 5*time.Second, "deadline of one call (retries included)")
	auth := flag.String("auth", "", "auth token")
	codec := flag.String("codec", "msgpack", "json|msgpack")
	verbose := flag.Bool("v", false, "rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)

	if *servers == "" || *workers < 1 {
		fmt.Fprintln(os.Stderr, "goxclient: -servers is required and -workers must be >= 1")
		os.Exit(2)
	}
	var pairs []*client.KVPair
	names := map[string]string{} // host:port -> name
	var order []string
	for _, s := range strings.Split(*servers, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
		if !ok || name == "" || addr == "" {
			fmt.Fprintf(os.Stderr, "goxclient: bad server %q (want name=network@host:port)\n", s)
			os.Exit(2)
		}
		if !strings.Contains(addr, "@") {
			addr = "tcp@" + addr
		}
		pairs = append(pairs, &client.KVPair{Key: addr})
		_, hostport := svc.SplitAddr(addr)
		names[hostport] = name
		order = append(order, name)
	}
	opt := client.DefaultOption
	switch *codec {
	case "json":
		opt.SerializeType = protocol.JSON
	case "msgpack":
		opt.SerializeType = protocol.MsgPack
	default:
		fmt.Fprintf(os.Stderr, "goxclient: unsupported -codec %q\n", *codec)
		os.Exit(2)
	}
	opt.Retries = *retries
	opt.ConnectTimeout = time.Second

	d, err := client.NewMultipleServersDiscovery(pairs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goxclient: discovery: %v\n", err)
		os.Exit(2)
	}
	x := client.NewXClient("Arith", client.Failover, client.RoundRobin, d, opt)
	defer x.Close()
	if *auth != "" {
		x.Auth(*auth)
	}

	var calls, failed atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	perServer := map[string]int{}
	fail := func(format string, a ...interface{}) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, fmt.Sprintf(format, a...))
	}

	end := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(end) && i < 1_000_000; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), *callTimeout)
				calls.Add(1)
				if i%2 == 0 {
					var rep svc.Reply
					a := w*100000 + i
					if err := x.Call(ctx, "Mul", &svc.Args{A: a, B: 3}, &rep); err != nil {
						fail("Arith.Mul(%d,3): %v", a, err)
					} else if rep.C != a*3 {
						fail("Arith.Mul(%d,3) = %d", a, rep.C)
					}
				} else {
					val := fmt.Sprintf("w%d-%d", w, i)
					req := map[string]string{"caller": val}
					res := map[string]string{}
					mctx := context.WithValue(context.WithValue(ctx, share.ReqMetaDataKey, req), share.ResMetaDataKey, res)
					var rep svc.Reply
					if err := x.Call(mctx, "Meta", &svc.Args{A: 1, B: 2}, &rep); err != nil {
						fail("Arith.Meta: %v", err)
					} else if res["echo-caller"] != val || rep.C < 1 {
						fail("Arith.Meta: echo-caller = %q (want %q), C = %d", res["echo-caller"], val, rep.C)
					} else {
						name := names[res[share.ServerAddress]]
						if name == "" {
							name = "?" + res[share.ServerAddress]
						}
						mu.Lock()
						perServer[name]++
						mu.Unlock()
					}
				}
				cancel()
				time.Sleep(*pause)
			}
		}(w)
	}
	wg.Wait()

	var parts []string
	missing := []string{}
	seen := map[string]bool{}
	for _, n := range order {
		parts = append(parts, fmt.Sprintf("%s:%d", n, perServer[n]))
		seen[n] = true
		if perServer[n] == 0 {
			missing = append(missing, n)
		}
	}
	var extra []string
	for n, c := range perServer {
		if !seen[n] {
			extra = append(extra, fmt.Sprintf("%s:%d", n, c))
		}
	}
	sort.Strings(extra)
	parts = append(parts, extra...)
	line := fmt.Sprintf("xclient: calls=%d failed=%d per-server=%s", calls.Load(), failed.Load(), strings.Join(parts, ","))
	if fe := firstErr.Load(); fe != nil {
		line += fmt.Sprintf(" first_error=%q", fe)
	}
	if len(missing) > 0 {
		line += fmt.Sprintf(" never_answered=%s", strings.Join(missing, ","))
	}
	fmt.Println(line)
	if failed.Load() > 0 || len(missing) > 0 || calls.Load() == 0 {
		os.Exit(1)
	}
}
