// The benchmark's worker written with Hatchet's Go SDK (built from the engine's Go module at the
// pinned tag): the engine's ceiling, an anchor for bench/sdk_vs_official.py. Bench-only, never shipped.
//
// The same two workflows as bench/sdk/worker.py: bench-noop-<suffix> (a task doing nothing) and
// bench-sleep-<suffix> (a task sleeping 10 ms), with BENCH_SLOTS slots; the client reads the
// HATCHET_CLIENT_* variables. The Go SDK serves no health endpoint, so this program answers /health
// on HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT once the worker has started; the benchmark's start-up
// figures for it count only its time to ACTIVE at the engine.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	hatchet "github.com/hatchet-dev/hatchet/sdks/go"
)

type empty struct{}

type done struct {
	Ok bool `json:"ok"`
}

func main() {
	suffix := os.Getenv("BENCH_SUFFIX")
	slots, err := strconv.Atoi(os.Getenv("BENCH_SLOTS"))
	if err != nil || slots < 1 {
		slots = 100
	}
	client, err := hatchet.NewClient()
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	noop := client.NewWorkflow("bench-noop-" + suffix)
	noop.NewTask("nothing", func(ctx hatchet.Context, _ empty) (done, error) {
		return done{Ok: true}, nil
	})
	nap := client.NewWorkflow("bench-sleep-" + suffix)
	nap.NewTask("nap", func(ctx hatchet.Context, _ empty) (done, error) {
		time.Sleep(10 * time.Millisecond)
		return done{Ok: true}, nil
	})
	worker, err := client.NewWorker("bench-"+suffix, hatchet.WithWorkflows(noop, nap), hatchet.WithSlots(slots))
	if err != nil {
		log.Fatalf("worker: %v", err)
	}
	var started atomic.Bool
	if port := os.Getenv("HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"); port != "" {
		http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
			if !started.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(`{"status":"HEALTHY"}`))
		})
		go func() { log.Println(http.ListenAndServe("127.0.0.1:"+port, nil)) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cleanup, err := worker.Start()
	if err != nil {
		log.Fatalf("start: %v", err)
	}
	started.Store(true)
	<-ctx.Done()
	if err := cleanup(); err != nil {
		log.Printf("cleanup: %v", err)
	}
}
