// Command runnerstub serves a chat-completions stub that answers every
// request at once with a fixed completion, for measuring the runner's
// overhead and comparing it with a plain HTTP load generator:
//
//	go run ./internal/runner/cmd/runnerstub -addr 127.0.0.1:18080
//	wrk -t2 -c64 -d10s -s post.lua http://127.0.0.1:18080/v1/chat/completions
//
// It listens on loopback addresses only.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "runnerstub: -addr must be a loopback address")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr())
	log.Fatal(http.Serve(ln, runnertest.StubHandler()))
}
