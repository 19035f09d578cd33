package otel_test

import (
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// readTally counts reads by whether a local cache answered, and holds the
// name New gave the observer it is part of (on the test's goroutine).
type readTally struct {
	name          string
	mu            sync.Mutex
	local, remote int64
}

func (r *readTally) read(cached bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cached {
		r.local++
	} else {
		r.remote++
	}
}

// counterTally holds what a Counter's Buffered views reported.
type counterTally struct {
	counter.NoopObserver
	readTally
	flushSeconds float64
}

func (c *counterTally) WithName(name string) counter.Observer {
	c.name = name
	return c
}

func (c *counterTally) OnRead(cached bool) { c.read(cached) }

func (c *counterTally) OnFlush(_ int, d time.Duration, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushSeconds += d.Seconds()
}

// TestCounterInstruments drives a Buffered view through a flush that
// succeeds, one that fails and reads from Redis and from its read cache,
// and checks every typecache.counter.* instrument point by point, named by
// counter.New.
func TestCounterInstruments(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		m, reader := newMetrics(t)
		name := redistest.Name(t)
		tally := &counterTally{}
		c, err := counter.New(srv.Client(t), name, counter.Options{TTL: time.Hour, Observer: m.CounterObserver(tally)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Buffered(counter.BufferOptions{FlushInterval: time.Hour}) // flushes are the test's
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(background)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		must(b.Add("a", 1))
		must(b.Add("b", 2))
		must(b.Flush(background)) // ok, 2 keys
		raw := srv.Raw(t)
		space, err := keyspace.New(keyspace.Counter, name)
		must(err)
		must(raw.Do(background, raw.B().Lpush().Key(space.Key("c", "list")).Element("x").Build()).Error())
		must(b.Add("list", 1))
		if err := b.Flush(background); err == nil { // error, 1 key: WRONGTYPE
			t.Fatal("a flush to a list succeeded")
		}
		redistest.Eventually(t, 5*time.Second, func() error { // remote reads, then a cached one
			_, err := b.Get(background, "a")
			must(err)
			tally.mu.Lock()
			defer tally.mu.Unlock()
			if tally.local == 0 {
				return errors.New("no read from the read cache")
			}
			return nil
		})

		s := collect(t, reader)
		tally.mu.Lock()
		defer tally.mu.Unlock()
		if tally.name != name {
			t.Errorf("the observer passed on was named %q, want the Counter's name %q", tally.name, name)
		}
		n := attribute.String("typecache.counter.name", name)
		result := func(r string) string { return set(n, attribute.String("typecache.counter.flush.result", r)) }
		tier := func(r string) string { return set(n, attribute.String("typecache.counter.tier", r)) }
		s.expectSums(t, map[string]map[string]int64{
			"typecache.counter.flushes":    {result("ok"): 1, result("error"): 1},
			"typecache.counter.flush.keys": {result("ok"): 2, result("error"): 1},
			"typecache.counter.reads":      {tier("local"): tally.local, tier("remote"): tally.remote},
		})
		durations := s.histogram(t, "typecache.counter.flush.duration")
		var sum float64
		for _, r := range []string{"ok", "error"} {
			p := durations[result(r)]
			if p.Count != 1 || !slices.Equal(p.Bounds, documentedBuckets) {
				t.Errorf("flush.duration{%s}: count %d, bounds %v; want 1, the documented bounds", r, p.Count, p.Bounds)
			}
			sum += p.Sum
		}
		if len(durations) != 2 || math.Abs(sum-tally.flushSeconds) > 1e-9 {
			t.Errorf("flush.duration: %d points summing %vs; the flushes took %vs", len(durations), sum, tally.flushSeconds)
		}
	})
}
