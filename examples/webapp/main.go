// Webapp: a net/http server that uses typecache's cache, rate limiter and
// sessions together. See README.md in this directory for a curl tour.
//
//	cd examples/webapp
//	go run .            # serves on 127.0.0.1:8080
//	go run . -smoke     # walks through the app once and exits
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/examples/internal/devredis"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	smokeRun := flag.Bool("smoke", false, "start on a free port, walk through login, cached reads, the rate limit and logout, then exit")
	flag.Parse()
	if err := run(*addr, *smokeRun); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, smokeRun bool) error {
	opt, stopRedis, err := devredis.Option() // REDIS_URL, or a throwaway redis-server
	if err != nil {
		return err
	}
	defer stopRedis()
	client, err := typecache.NewClient(opt)
	if err != nil {
		return err
	}
	defer client.Close()
	prefix := "webapp."
	if smokeRun { // a fresh rate limit and cache, even on a long-lived REDIS_URL server
		prefix = fmt.Sprintf("webapp-smoke-%d.", time.Now().UnixNano())
	}
	a, err := newApp(client, prefix, &profileDB{})
	if err != nil {
		return err
	}
	defer a.Close()

	if smokeRun {
		srv := httptest.NewServer(a.Handler())
		defer srv.Close()
		if err := smoke(srv.URL, os.Stdout); err != nil {
			return err
		}
		log.Print("smoke: ok")
		return nil
	}

	srv := &http.Server{Addr: addr, Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Printf("listening on http://%s", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
