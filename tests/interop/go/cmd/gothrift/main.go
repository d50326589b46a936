// Command gothrift is the Go side of the Thrift interop check (tests/interop/run_thrift.sh):
// rpcx calls with serialize type 4, Go's codec.ThriftCodec (Apache Thrift's TBinaryProtocol
// over a TStruct), against our Thrift codec for serde types.
//
//	gothrift -mode client -addr tcp@HOST:PORT
//	    calls Arith.Mul {7, 8} and Arith.Div {1, 0} with Thrift; prints "REPLY 56" and
//	    "ERROR <text>" (the server's error text).
//	gothrift -mode server -addr tcp@127.0.0.1:0
//	    serves ThriftArith.Mul (Args {1: i64 A, 2: i64 B} -> Reply {1: i64 C}) and
//	    ThriftArith.Profile (echoes a Profile with a string, a list, a map, an optional
//	    field and a nested struct, with Count set to the list's length); prints
//	    "LISTENING <network>@<address>".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/server"
)

// Args is Thrift struct Args {1: i64 A, 2: i64 B}, written by hand as the Thrift compiler
// would generate it.
type Args struct{ A, B int64 }

// Reply is Thrift struct Reply {1: i64 C}.
type Reply struct{ C int64 }

// Profile is Thrift struct Profile {1: string Name, 2: list<i32> Scores,
// 3: map<string, i64> Tags, 4: optional string Nick, 5: Args Pair, 6: i32 Count}.
type Profile struct {
	Name   string
	Scores []int32
	Tags   map[string]int64
	Nick   *string
	Pair   Args
	Count  int32
}

func fieldLoop(ctx context.Context, p thrift.TProtocol, field func(id int16, t thrift.TType) error) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			break
		}
		if err := field(id, t); err != nil {
			return err
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return p.ReadStructEnd(ctx)
}

func writeI64(ctx context.Context, p thrift.TProtocol, name string, id int16, v int64) error {
	if err := p.WriteFieldBegin(ctx, name, thrift.I64, id); err != nil {
		return err
	}
	if err := p.WriteI64(ctx, v); err != nil {
		return err
	}
	return p.WriteFieldEnd(ctx)
}

func (a *Args) Write(ctx context.Context, p thrift.TProtocol) error {
	if err := p.WriteStructBegin(ctx, "Args"); err != nil {
		return err
	}
	if err := writeI64(ctx, p, "A", 1, a.A); err != nil {
		return err
	}
	if err := writeI64(ctx, p, "B", 2, a.B); err != nil {
		return err
	}
	if err := p.WriteFieldStop(ctx); err != nil {
		return err
	}
	return p.WriteStructEnd(ctx)
}

func (a *Args) Read(ctx context.Context, p thrift.TProtocol) error {
	return fieldLoop(ctx, p, func(id int16, t thrift.TType) (err error) {
		switch {
		case id == 1 && t == thrift.I64:
			a.A, err = p.ReadI64(ctx)
		case id == 2 && t == thrift.I64:
			a.B, err = p.ReadI64(ctx)
		default:
			err = p.Skip(ctx, t)
		}
		return err
	})
}

func (r *Reply) Write(ctx context.Context, p thrift.TProtocol) error {
	if err := p.WriteStructBegin(ctx, "Reply"); err != nil {
		return err
	}
	if err := writeI64(ctx, p, "C", 1, r.C); err != nil {
		return err
	}
	if err := p.WriteFieldStop(ctx); err != nil {
		return err
	}
	return p.WriteStructEnd(ctx)
}

func (r *Reply) Read(ctx context.Context, p thrift.TProtocol) error {
	return fieldLoop(ctx, p, func(id int16, t thrift.TType) (err error) {
		if id == 1 && t == thrift.I64 {
			r.C, err = p.ReadI64(ctx)
			return err
		}
		return p.Skip(ctx, t)
	})
}

func (pr *Profile) Write(ctx context.Context, p thrift.TProtocol) error {
	w := func(steps ...func() error) error {
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	}
	return w(
		func() error { return p.WriteStructBegin(ctx, "Profile") },
		func() error { return p.WriteFieldBegin(ctx, "Name", thrift.STRING, 1) },
		func() error { return p.WriteString(ctx, pr.Name) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error { return p.WriteFieldBegin(ctx, "Scores", thrift.LIST, 2) },
		func() error { return p.WriteListBegin(ctx, thrift.I32, len(pr.Scores)) },
		func() error {
			for _, s := range pr.Scores {
				if err := p.WriteI32(ctx, s); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return p.WriteListEnd(ctx) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error { return p.WriteFieldBegin(ctx, "Tags", thrift.MAP, 3) },
		func() error { return p.WriteMapBegin(ctx, thrift.STRING, thrift.I64, len(pr.Tags)) },
		func() error {
			for k, v := range pr.Tags {
				if err := p.WriteString(ctx, k); err != nil {
					return err
				}
				if err := p.WriteI64(ctx, v); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return p.WriteMapEnd(ctx) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error {
			if pr.Nick == nil {
				return nil
			}
			return w(
				func() error { return p.WriteFieldBegin(ctx, "Nick", thrift.STRING, 4) },
				func() error { return p.WriteString(ctx, *pr.Nick) },
				func() error { return p.WriteFieldEnd(ctx) },
			)
		},
		func() error { return p.WriteFieldBegin(ctx, "Pair", thrift.STRUCT, 5) },
		func() error { return pr.Pair.Write(ctx, p) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error { return p.WriteFieldBegin(ctx, "Count", thrift.I32, 6) },
		func() error { return p.WriteI32(ctx, pr.Count) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error { return p.WriteFieldStop(ctx) },
		func() error { return p.WriteStructEnd(ctx) },
	)
}

func (pr *Profile) Read(ctx context.Context, p thrift.TProtocol) error {
	return fieldLoop(ctx, p, func(id int16, t thrift.TType) error {
		var err error
		switch {
		case id == 1 && t == thrift.STRING:
			pr.Name, err = p.ReadString(ctx)
		case id == 2 && t == thrift.LIST:
			_, n, e := p.ReadListBegin(ctx)
			if e != nil {
				return e
			}
			pr.Scores = make([]int32, 0, n)
			for i := 0; i < n; i++ {
				v, e := p.ReadI32(ctx)
				if e != nil {
					return e
				}
				pr.Scores = append(pr.Scores, v)
			}
			err = p.ReadListEnd(ctx)
		case id == 3 && t == thrift.MAP:
			_, _, n, e := p.ReadMapBegin(ctx)
			if e != nil {
				return e
			}
			pr.Tags = make(map[string]int64, n)
			for i := 0; i < n; i++ {
				k, e := p.ReadString(ctx)
				if e != nil {
					return e
				}
				v, e := p.ReadI64(ctx)
				if e != nil {
					return e
				}
				pr.Tags[k] = v
			}
			err = p.ReadMapEnd(ctx)
		case id == 4 && t == thrift.STRING:
			var s string
			s, err = p.ReadString(ctx)
			pr.Nick = &s
		case id == 5 && t == thrift.STRUCT:
			err = pr.Pair.Read(ctx, p)
		case id == 6 && t == thrift.I32:
			pr.Count, err = p.ReadI32(ctx)
		default:
			err = p.Skip(ctx, t)
		}
		return err
	})
}

// ThriftArith is the service of server mode.
type ThriftArith struct{}

func (ThriftArith) Mul(_ context.Context, a *Args, r *Reply) error {
	r.C = a.A * a.B
	return nil
}

func (ThriftArith) Profile(_ context.Context, in *Profile, out *Profile) error {
	*out = *in
	out.Count = int32(len(in.Scores))
	return nil
}

func (ThriftArith) Error(_ context.Context, _ *Args, _ *Reply) error {
	return errors.New("thrift says no")
}

func main() {
	mode := flag.String("mode", "", "client or server")
	addr := flag.String("addr", "", "network@address")
	flag.Parse()
	switch *mode {
	case "server":
		s := server.NewServer()
		if err := s.RegisterName("ThriftArith", new(ThriftArith), ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		network, address := split(*addr)
		go func() {
			for s.Address() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			fmt.Printf("LISTENING %s@%s\n", network, s.Address().String())
		}()
		go func() {
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
			<-ch
			s.Close()
		}()
		if err := s.Serve(network, address); err != nil && !errors.Is(err, server.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "client":
		network, address := split(*addr)
		opt := client.DefaultOption
		opt.SerializeType = protocol.Thrift
		c := client.NewClient(opt)
		if err := c.Connect(network, address); err != nil {
			fmt.Fprintln(os.Stderr, "connect:", err)
			os.Exit(1)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var r Reply
		if err := c.Call(ctx, "Arith", "Mul", &Args{A: 7, B: 8}, &r); err != nil {
			fmt.Fprintln(os.Stderr, "Arith.Mul:", err)
			os.Exit(1)
		}
		fmt.Printf("REPLY %d\n", r.C)
		err := c.Call(ctx, "Arith", "Div", &Args{A: 1, B: 0}, &r)
		fmt.Printf("ERROR %v\n", err)
	default:
		fmt.Fprintln(os.Stderr, "usage: gothrift -mode client|server -addr network@address")
		os.Exit(2)
	}
}

func split(a string) (string, string) {
	for i := 0; i < len(a); i++ {
		if a[i] == '@' {
			return a[:i], a[i+1:]
		}
	}
	return "tcp", a
}
