// Command snappyvectors writes the golden snappy vectors of Go rpcx's own
// protocol.SnappyCompressor (github.com/golang/snappy's framed stream) to
// ../vectors/snappy/go_snappy.txt: one line per input, "NAME HEX", where HEX is
// Zip(input). rpcx-core/tests/compress.rs builds the same inputs from NAME
// and checks that our SnappyCompressor writes exactly these bytes and reads
// them back.
//
//	go run ./cmd/snappyvectors -out ../vectors/snappy/go_snappy.txt
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"github.com/smallnest/rpcx/protocol"
)

// inputs must match rpcx-core/tests/compress.rs (fn snappy_vector_input).
func inputs() []struct {
	name string
	data []byte
} {
	pattern := make([]byte, 4096)
	for i := range pattern {
		pattern[i] = "rpcx-cmpr-payload-"[i%18] + byte(i/18%3)
	}
	mixed := make([]byte, 70000)
	for i := range mixed {
		mixed[i] = byte((i % 251) ^ (i >> 9))
	}
	return []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"hello", []byte("hello")},
		{"hello5", []byte("hello hello hello hello hello")},
		{"pattern4k", pattern},
		{"zeros70000", make([]byte, 70000)},
		{"mixed70000", mixed},
	}
}

func main() {
	out := flag.String("out", "../vectors/snappy/go_snappy.txt", "output file")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(f)
	c := &protocol.SnappyCompressor{}
	for _, in := range inputs() {
		z, err := c.Zip(in.data)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", in.name, err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "%s %s\n", in.name, hex.EncodeToString(z))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
