// Command benchclient is the Go reference client of the benchmark workload
// (github.com/rpcxio/rpcx-benchmark; docs/benchmarks.md): c concurrent callers share a pool of XClients
// (Failtry + RoundRobin over one static peer, protobuf), calling Hello.Say
// with the filled 581-byte BenchmarkMessage, for -n requests in total or for
// -d wall time, after a few warm-up calls per client. It prints one JSON line:
//
//	{"requests":..,"errors":..,"seconds":..,"rps":..,"mean_ms":..,"p50_ms":..,
//	 "p99_ms":..,"p999_ms":..,"min_ms":..,"max_ms":..,...}
//
// requests counts every completed call (errors included), rps = requests/seconds,
// latencies are over all completed calls. Warm-up calls are not counted.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"

	"rpcx-interop/internal/svc"
	"rpcx-interop/pb"
)

type result struct {
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	MeanMs      float64 `json:"mean_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
	MinMs       float64 `json:"min_ms"`
	MaxMs       float64 `json:"max_ms"`
	Concurrency int     `json:"concurrency"`
	Pool        int     `json:"pool"`
	FirstError  string  `json:"first_error,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// percentile uses the nearest-rank method on sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	idx := int(math.Ceil(p*float64(len(sorted)))) - 1
	if idx < 0 {
		idx = 0
	}
	if idx >= len(sorted) {
		idx = len(sorted) - 1
	}
	return sorted[idx]
}

func fatalf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "benchclient: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	addr := flag.String("addr", "", "server address network@host:port (required)")
	conc := flag.Int("c", 100, "concurrent callers")
	total := flag.Int64("n", 100000, "total requests (ignored when -d is given)")
	dur := flag.Duration("d", 0, "run for this wall time instead of -n requests")
	poolN := flag.Int("pool", 10, "number of XClients (connections) shared by the callers")
	warmup := flag.Int("warmup", 5, "warm-up calls per client")
	maxTime := flag.Duration("max-time", 10*time.Minute, "hard upper bound of the whole run")
	verbose := flag.Bool("v", false, "rpcx logging on stderr")
	flag.Parse()
	svc.SetupLogging(*verbose)

	if *addr == "" {
		fatalf("-addr is required")
	}
	if !strings.Contains(*addr, "@") {
		*addr = "tcp@" + *addr
	}
	if *conc < 1 || *poolN < 1 || (*dur <= 0 && *total < 1) {
		fatalf("-c, -pool and -n (or -d) must be positive")
	}
	const maxRequests = 100_000_000
	if *dur <= 0 && *total > maxRequests {
		fatalf("-n is capped at %d", maxRequests)
	}

	// hard bound: whatever happens, the process ends
	watchdog := time.AfterFunc(*maxTime, func() {
		fatalf("run exceeded -max-time %v", *maxTime)
	})
	defer watchdog.Stop()

	opt := client.DefaultOption
	opt.SerializeType = protocol.ProtoBuffer
	d, err := client.NewPeer2PeerDiscovery(*addr, "")
	if err != nil {
		fatalf("discovery: %v", err)
	}
	xcs := make([]client.XClient, *poolN)
	for i := range xcs {
		xcs[i] = client.NewXClient("Hello", client.Failtry, client.RoundRobin, d, opt)
	}
	defer func() {
		for _, x := range xcs {
			x.Close()
		}
	}()

	check := func(x client.XClient, args *pb.BenchmarkMessage) error {
		reply := &pb.BenchmarkMessage{}
		if err := x.Call(context.Background(), "Say", args, reply); err != nil {
			return err
		}
		if reply.GetField1() != "OK" || reply.GetField2() != 100 {
			return fmt.Errorf("bad reply field1=%q field2=%d", reply.GetField1(), reply.GetField2())
		}
		return nil
	}
	for i, x := range xcs {
		args := svc.FilledBenchmarkMessage()
		for j := 0; j < *warmup; j++ {
			if err := check(x, args); err != nil {
				fatalf("warm-up call on client %d: %v", i, err)
			}
		}
	}

	var issued, errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, *conc)
	perWorker := 1024
	if *dur <= 0 {
		perWorker = int(*total / int64(*conc))
		perWorker++
	}
	var end time.Time
	var wg sync.WaitGroup
	start := time.Now()
	if *dur > 0 {
		end = start.Add(*dur)
	}
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			x := xcs[w%len(xcs)]
			args := svc.FilledBenchmarkMessage()
			l := make([]time.Duration, 0, perWorker)
			for k := 0; k < maxRequests; k++ {
				if *dur > 0 {
					if !time.Now().Before(end) {
						break
					}
				} else if issued.Add(1) > *total {
					break
				}
				t0 := time.Now()
				err := check(x, args)
				l = append(l, time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
			lat[w] = l
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var sum time.Duration
	for _, v := range all {
		sum += v
	}
	res := result{
		Requests:    int64(len(all)),
		Errors:      errs.Load(),
		Seconds:     math.Round(elapsed.Seconds()*1e6) / 1e6,
		Concurrency: *conc,
		Pool:        *poolN,
	}
	if len(all) > 0 {
		res.RPS = math.Round(float64(len(all))/elapsed.Seconds()*10) / 10
		res.MeanMs = ms(sum / time.Duration(len(all)))
		res.P50Ms = ms(percentile(all, 0.50))
		res.P99Ms = ms(percentile(all, 0.99))
		res.P999Ms = ms(percentile(all, 0.999))
		res.MinMs = ms(all[0])
		res.MaxMs = ms(all[len(all)-1])
	}
	if v := firstErr.Load(); v != nil {
		res.FirstError = v.(string)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if res.Errors > 0 {
		os.Exit(1)
	}
}
