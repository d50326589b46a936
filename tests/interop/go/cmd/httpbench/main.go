// Command httpbench is the load driver of the HTTP gateway benchmark (scripts/bench/http_gateway.py,
// part of `make bench`): -c keep-alive connections, each driven by one goroutine sending
// gateway requests back to back (JSON Arith.Mul, X-RPCX-* headers, result checked), until
// -n requests in all have completed or -max-time has passed.
//
//	httpbench -addr host:port [-c 16] [-n 100000] [-warmup 2000] [-mode gateway|jsonrpc]
//	          [-auth TOKEN] [-max-time 2m]
//
// -mode jsonrpc sends the same call as JSON-RPC 2.0 (X-JSONRPC-2.0: true). Warm-up requests
// (on the same connections) are not counted. Prints one JSON line: requests (completed, errors
// included), errors, first_error, seconds, rps, mean_ms, p50_ms, p99_ms, max_ms, conns,
// dials (TCP connections opened: equal to conns when keep-alive held), mode. Exit status 1 if
// a request failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	MeanMs     float64 `json:"mean_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	Conns      int     `json:"conns"`
	Dials      int64   `json:"dials"`
	Mode       string  `json:"mode"`
}

func main() {
	addr := flag.String("addr", "", "server host:port (tcp@host:port also accepted)")
	conns := flag.Int("c", 16, "keep-alive connections (one goroutine each)")
	total := flag.Int("n", 100000, "measured requests in all")
	warmup := flag.Int("warmup", 2000, "requests sent first and not counted")
	mode := flag.String("mode", "gateway", "gateway or jsonrpc")
	auth := flag.String("auth", "", "Authorization header value, if the server wants a token")
	maxTime := flag.Duration("max-time", 2*time.Minute, "stop the measured run after this long")
	flag.Parse()
	if *addr == "" || *conns < 1 || *total < 1 || *warmup < 0 || (*mode != "gateway" && *mode != "jsonrpc") {
		fmt.Fprintln(os.Stderr, "httpbench: -addr is required; -c, -n >= 1; -mode gateway|jsonrpc")
		os.Exit(2)
	}
	host := *addr
	if i := strings.Index(host, "@"); i >= 0 {
		host = host[i+1:]
	}

	var dials atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, a)
		},
		MaxConnsPerHost:     *conns,
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	url := "http://" + host + "/"

	// call sends one Mul(a, 3) and checks C.
	call := func(a int) error {
		var body []byte
		req, err := http.NewRequest(http.MethodPost, url, nil)
		if err != nil {
			return err
		}
		if *mode == "gateway" {
			body = []byte(fmt.Sprintf(`{"A":%d,"B":3}`, a))
			req.Header.Set("X-RPCX-SerializeType", "1")
			req.Header.Set("X-RPCX-ServicePath", "Arith")
			req.Header.Set("X-RPCX-ServiceMethod", "Mul")
		} else {
			body = []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":%d,"B":3},"id":%d}`, a, a))
			req.Header.Set("X-JSONRPC-2.0", "true")
		}
		if *auth != "" {
			req.Header.Set("Authorization", *auth)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s %q", resp.StatusCode, resp.Header.Get("X-Rpcx-Errormessage"), data)
		}
		var reply struct {
			C      *int
			Result *struct{ C int } `json:"result"`
		}
		if err := json.Unmarshal(data, &reply); err != nil {
			return fmt.Errorf("reply %q: %v", data, err)
		}
		got := -1
		if reply.C != nil {
			got = *reply.C
		} else if reply.Result != nil {
			got = reply.Result.C
		}
		if got != a*3 {
			return fmt.Errorf("Mul(%d,3) = %q", a, data)
		}
		return nil
	}

	// run sends n requests split over the connections; returns the per-request latencies.
	var errs atomic.Int64
	var firstErr atomic.Value
	run := func(n int, deadline time.Time) [][]time.Duration {
		lat := make([][]time.Duration, *conns)
		var wg sync.WaitGroup
		for w := 0; w < *conns; w++ {
			share := n / *conns
			if w < n%*conns {
				share++
			}
			wg.Add(1)
			go func(w, share int) {
				defer wg.Done()
				mine := make([]time.Duration, 0, share)
				for i := 0; i < share && time.Now().Before(deadline); i++ {
					start := time.Now()
					err := call(w*1000003 + i)
					mine = append(mine, time.Since(start))
					if err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
				lat[w] = mine
			}(w, share)
		}
		wg.Wait()
		return lat
	}

	if *warmup > 0 {
		run(*warmup, time.Now().Add(*maxTime))
		errs.Store(0)
	}
	start := time.Now()
	lat := run(*total, start.Add(*maxTime))
	elapsed := time.Since(start)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rank := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p*float64(len(all))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return ms(all[i])
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	r := result{
		Requests: int64(len(all)), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		P50Ms: rank(0.50), P99Ms: rank(0.99), Conns: *conns, Dials: dials.Load(), Mode: *mode,
	}
	if len(all) > 0 {
		r.RPS = float64(len(all)) / elapsed.Seconds()
		r.MeanMs = ms(sum / time.Duration(len(all)))
		r.MaxMs = ms(all[len(all)-1])
	}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if r.Errors > 0 || r.Requests < int64(*total) {
		if r.Requests < int64(*total) {
			fmt.Fprintf(os.Stderr, "httpbench: only %d of %d requests within %v\n", r.Requests, *total, *maxTime)
		}
		os.Exit(1)
	}
}
