// Command gofiles is the Go side of the file transfer and stream interop check
// (tests/interop/run_files.sh), on Go rpcx's own FileTransfer, StreamService and XClient
// SendFile/DownloadFile/Stream.
//
//	gofiles -mode server -addr tcp@127.0.0.1:0 -dir DIR
//	    serves _filetransfer (uploads saved as DIR/<base name>, downloads read from DIR) and
//	    _streamservice (echo) on side listeners on free loopback ports. Prints
//	    "LISTENING <network>@<address>" once it accepts connections and "SAVED <name> <sha256>"
//	    after each upload is on disk.
//	gofiles -mode upload -addr tcp@HOST:PORT -file PATH [-json]
//	    XClient("_filetransfer").SendFile(PATH).
//	gofiles -mode download -addr tcp@HOST:PORT -file NAME -out PATH [-json]
//	    XClient("_filetransfer").DownloadFile(NAME) into PATH; prints "SHA256 <hex>".
//	gofiles -mode stream -addr tcp@HOST:PORT -n N [-json]
//	    XClient("_streamservice").Stream(), writes N length-prefixed messages and checks each
//	    echoed back; prints "ECHOED <n>".
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smallnest/rpcx/client"
	"github.com/smallnest/rpcx/protocol"
	"github.com/smallnest/rpcx/server"
	"github.com/smallnest/rpcx/share"
)

func main() {
	mode := flag.String("mode", "", "server, upload, download or stream")
	addr := flag.String("addr", "tcp@127.0.0.1:0", "rpcx address (network@host:port)")
	dir := flag.String("dir", "", "server: the directory of uploads and downloads")
	file := flag.String("file", "", "upload: local path; download: remote name")
	out := flag.String("out", "", "download: where to save")
	n := flag.Int("n", 10000, "stream: messages to echo")
	useJSON := flag.Bool("json", false, "client: JSON instead of MsgPack")
	flag.Parse()
	var err error
	switch *mode {
	case "server":
		err = serve(*addr, *dir)
	case "upload", "download", "stream":
		err = runClient(*mode, *addr, *file, *out, *n, *useJSON)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gofiles:", err)
		os.Exit(1)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago: Go's
// FileTransfer and StreamService reply with their configured address, so it must be concrete.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	a := ln.Addr().String()
	ln.Close()
	return a, nil
}

func serve(addr, dir string) error {
	if dir == "" {
		return errors.New("-dir is required")
	}
	network, hostport, ok := strings.Cut(addr, "@")
	if !ok {
		return fmt.Errorf("address %q is not network@host:port", addr)
	}
	s := server.NewServer()
	ftAddr, err := freeAddr()
	if err != nil {
		return err
	}
	upload := func(conn net.Conn, args *share.FileTransferArgs) {
		defer conn.Close()
		name := filepath.Base(args.FileName)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, "gofiles: create:", err)
			return
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(f, h), conn)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gofiles: upload:", err)
			return
		}
		fmt.Printf("SAVED %s %s\n", name, hex.EncodeToString(h.Sum(nil)))
	}
	download := func(conn net.Conn, args *share.DownloadFileArgs) {
		defer conn.Close()
		f, err := os.Open(filepath.Join(dir, filepath.Base(args.FileName)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "gofiles: open:", err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(conn, f); err != nil {
			fmt.Fprintln(os.Stderr, "gofiles: download:", err)
		}
	}
	s.EnableFileTransfer(share.SendFileServiceName, server.NewFileTransfer(ftAddr, upload, download, 100))
	stAddr, err := freeAddr()
	if err != nil {
		return err
	}
	echo := func(conn net.Conn, args *share.StreamServiceArgs) {
		defer conn.Close()
		io.Copy(conn, conn)
	}
	s.EnableStreamService(share.StreamServiceName, server.NewStreamService(stAddr, echo, nil, 100))

	errc := make(chan error, 1)
	go func() { errc <- s.Serve(network, hostport) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Address() == nil {
		select {
		case err := <-errc:
			return err
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("LISTENING %s@%s\n", s.Address().Network(), s.Address().String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-errc:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

func runClient(mode, addr, file, out string, n int, useJSON bool) error {
	opt := client.DefaultOption
	if useJSON {
		opt.SerializeType = protocol.JSON
	}
	d, err := client.NewPeer2PeerDiscovery(addr, "")
	if err != nil {
		return err
	}
	service := share.SendFileServiceName
	if mode == "stream" {
		service = share.StreamServiceName
	}
	xc := client.NewXClient(service, client.Failtry, client.RandomSelect, d, opt)
	defer xc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch mode {
	case "upload":
		return xc.SendFile(ctx, file, 0, map[string]string{"from": "go"})
	case "download":
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		h := sha256.New()
		err = xc.DownloadFile(ctx, file, io.MultiWriter(f, h), nil)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Printf("SHA256 %s\n", hex.EncodeToString(h.Sum(nil)))
		return nil
	default:
		conn, err := xc.Stream(ctx, map[string]string{"from": "go"})
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		werr := make(chan error, 1)
		go func() {
			w := bufio.NewWriter(conn)
			for i := 0; i < n; i++ {
				msg := fmt.Sprintf("message %05d", i)
				var l [4]byte
				binary.BigEndian.PutUint32(l[:], uint32(len(msg)))
				w.Write(l[:])
				w.WriteString(msg)
			}
			werr <- w.Flush()
		}()
		r := bufio.NewReader(conn)
		for i := 0; i < n; i++ {
			var l [4]byte
			if _, err := io.ReadFull(r, l[:]); err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			body := make([]byte, binary.BigEndian.Uint32(l[:]))
			if _, err := io.ReadFull(r, body); err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			if want := fmt.Sprintf("message %05d", i); string(body) != want {
				return fmt.Errorf("message %d: got %q, want %q", i, body, want)
			}
		}
		if err := <-werr; err != nil {
			return err
		}
		fmt.Printf("ECHOED %d\n", n)
		return nil
	}
}
