package cache_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// user is the value type of most tests.
type user struct {
	ID   int
	Name string
}

// cacheName returns a cache name unique to the test.
func cacheName(t testing.TB) string { return redistest.Name(t) }

// newCache returns a Cache on client, named name, closed when the test ends.
// Unless opts says otherwise, Redis calls get 10 s rather than the default
// second: these tests check what the cache returns, also on a machine so
// loaded (make stress) that a round trip can take longer than a second.
func newCache[T any](t testing.TB, client *typecache.Client, name string, opts cache.Options[T]) *cache.Cache[T] {
	t.Helper()
	if opts.TTL == 0 {
		opts.TTL = time.Minute
	}
	if opts.RedisTimeout == 0 {
		opts.RedisTimeout = 10 * time.Second
	}
	c, err := cache.New[T](client, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// namedClient returns a client whose connections carry name, for CLIENT KILL.
func namedClient(t *testing.T, srv *redistest.Server, name string) *typecache.Client {
	t.Helper()
	opt := srv.Option()
	opt.ClientName = name
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustGet[T comparable](t *testing.T, c *cache.Cache[T], key string, want T) {
	t.Helper()
	got, err := c.Get(context.Background(), key)
	if err != nil || got != want {
		t.Fatalf("Get(%q) = %v, %v; want %v, nil", key, got, err, want)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	tests := []struct {
		name  string
		opts  cache.Options[user]
		field string
	}{
		{"no TTL", cache.Options[user]{}, "Options.TTL"},
		{"negative TTL", cache.Options[user]{TTL: -time.Second}, "Options.TTL"},
		{"TTL too long", cache.Options[user]{TTL: cache.MaxTTL + 1}, "Options.TTL"},
		{"negative stale", cache.Options[user]{TTL: time.Second, StaleTTL: -1}, "Options.StaleTTL"},
		{"jitter", cache.Options[user]{TTL: time.Second, Jitter: 0.6}, "Options.Jitter"},
		{"jitter NaN", cache.Options[user]{TTL: time.Second, Jitter: math.NaN()}, "Options.Jitter"},
		{"jitter -Inf", cache.Options[user]{TTL: time.Second, Jitter: math.Inf(-1)}, "Options.Jitter"},
		{"beta +Inf", cache.Options[user]{TTL: time.Second, EarlyRefreshBeta: math.Inf(1)}, "Options.EarlyRefreshBeta"},
		{"beta -Inf", cache.Options[user]{TTL: time.Second, EarlyRefreshBeta: math.Inf(-1)}, "Options.EarlyRefreshBeta"},
		{"beta NaN", cache.Options[user]{TTL: time.Second, EarlyRefreshBeta: math.NaN()}, "Options.EarlyRefreshBeta"},
		{"entries", cache.Options[user]{TTL: time.Second, MaxLocalEntries: -1}, "Options.MaxLocalEntries"},
		{"bytes", cache.Options[user]{TTL: time.Second, MaxLocalBytes: -1}, "Options.MaxLocalBytes"},
		{"value bytes", cache.Options[user]{TTL: time.Second, MaxValueBytes: -1}, "Options.MaxValueBytes"},
		{"load timeout", cache.Options[user]{TTL: time.Second, LoadTimeout: -1}, "Options.LoadTimeout"},
		{"concurrent loads", cache.Options[user]{TTL: time.Second, MaxConcurrentLoads: -1}, "Options.MaxConcurrentLoads"},
		{"TTL under a millisecond", cache.Options[user]{TTL: time.Nanosecond}, "Options.TTL"},
		{"negative TTL under a millisecond", cache.Options[user]{TTL: time.Second, NegativeTTL: time.Microsecond}, "Options.NegativeTTL"},
		{"lease", cache.Options[user]{TTL: time.Second, StampedeLease: time.Millisecond}, "Options.StampedeLease"},
		{"version with ':'", cache.Options[user]{TTL: time.Second, Version: "v:2"}, "Options.Version"},
		{"version with '@'", cache.Options[user]{TTL: time.Second, Version: "v@2"}, "Options.Version"},
		{"version with '}'", cache.Options[user]{TTL: time.Second, Version: "v}"}, "Options.Version"},
		{"name@version too long", cache.Options[user]{TTL: time.Second, Version: strings.Repeat("v", 99)}, "Options.Version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cache.New(client, "n", tt.opts)
			if !errors.Is(err, cache.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("New: err = %v, want ErrInvalidOptions naming %s", err, tt.field)
			}
		})
	}
	for _, name := range []string{"", "a:b", "a{b}", "a}", "a b", strings.Repeat("n", 101)} {
		if _, err := cache.New(client, name, cache.Options[user]{TTL: time.Second}); !errors.Is(err, cache.ErrInvalidOptions) || !strings.Contains(err.Error(), "name") {
			t.Errorf("New(%q): err = %v, want ErrInvalidOptions naming the name", name, err)
		}
	}
	if _, err := cache.New(nil, "n", cache.Options[user]{TTL: time.Second}); !errors.Is(err, cache.ErrInvalidOptions) {
		t.Errorf("New(nil client): err = %v", err)
	}
}

// TestNilArguments: no entry point panics on a nil or empty argument a
// user can pass.
func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[user]{TTL: time.Minute})
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"Fetch nil loader", func() error { _, err := c.Fetch(ctx, "k", nil); return err }, cache.ErrInvalidArgument},
		{"Fetch nil LoaderFunc", func() error { _, err := c.Fetch(ctx, "k", cache.LoaderFunc[user](nil)); return err }, cache.ErrInvalidArgument},
		{"FetchMany nil loader", func() error { _, err := c.FetchMany(ctx, []string{"k"}, nil); return err }, cache.ErrInvalidArgument},
		{"FetchMany nil BatchLoaderFunc", func() error {
			_, err := c.FetchMany(ctx, []string{"k"}, cache.BatchLoaderFunc[user](nil))
			return err
		}, cache.ErrInvalidArgument},
		{"Put nil writer", func() error { return c.Put(ctx, "k", user{}, nil) }, cache.ErrInvalidArgument},
		{"Put nil WriterFunc", func() error { return c.Put(ctx, "k", user{}, cache.WriterFunc[user](nil)) }, cache.ErrInvalidArgument},
		{"Set nil option", func() error { return c.Set(ctx, "k", user{}, nil) }, cache.ErrInvalidArgument},
		{"Get empty key", func() error { _, err := c.Get(ctx, ""); return err }, cache.ErrEmptyKey},
		{"Delete empty key", func() error { return c.Delete(ctx, "a", "") }, cache.ErrEmptyKey},
		{"FetchMany empty key", func() error {
			_, err := c.FetchMany(ctx, []string{"a", ""}, cache.BatchLoaderFunc[user](func(context.Context, []string) (map[string]user, error) { return nil, nil }))
			return err
		}, cache.ErrEmptyKey},
		{"FetchMany no keys", func() error {
			_, err := c.FetchMany(ctx, nil, cache.BatchLoaderFunc[user](func(context.Context, []string) (map[string]user, error) { return nil, nil }))
			return err
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGetSetDelete(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		c := newCache(t, srv.Client(t), name, cache.Options[user]{TTL: time.Hour})
		want := user{ID: 1, Name: "ada"}

		if _, err := c.Get(ctx, "1"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get before Set: err = %v, want ErrNotFound", err)
		}
		if err := c.Set(ctx, "1", want); err != nil {
			t.Fatal(err)
		}
		// A key's first remote read is untracked, and the second may race
		// the invalidation of the Set (which moves the generation and keeps
		// the read out of the local tier); once it has arrived, a remote
		// read is kept and then served locally.
		eventually(t, 5*time.Second, "a local hit", func() bool {
			mustGet(t, c, "1", want)
			return c.Stats().LocalHits > 0
		})
		if st := c.Stats(); st.RemoteHits == 0 || st.LocalEntries != 1 {
			t.Fatalf("stats: %+v, want remote hits and one local entry", st)
		}

		pttl, err := srv.Raw(t).Do(ctx, srv.Raw(t).B().Pttl().Key(c.RedisKey("1")).Build()).AsInt64()
		if err != nil || pttl < int64(54*time.Minute/time.Millisecond) || pttl > int64(66*time.Minute/time.Millisecond) {
			t.Fatalf("PTTL = %d, %v; want 1h ± 10%%", pttl, err)
		}
		if err := c.Set(ctx, "2", want, cache.WithTTL(time.Second)); err != nil {
			t.Fatal(err)
		}
		pttl, _ = srv.Raw(t).Do(ctx, srv.Raw(t).B().Pttl().Key(c.RedisKey("2")).Build()).AsInt64()
		if pttl > 1100 {
			t.Fatalf("PTTL with WithTTL(1s) = %d ms", pttl)
		}

		if err := c.Delete(ctx, "1", "2"); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"1", "2"} {
			if _, err := c.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
			}
		}
	})
}

func TestBadKeysAndValues(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Standalone(t)
	c := newCache(t, srv.Client(t), cacheName(t), cache.Options[string]{TTL: time.Minute, MaxValueBytes: 100})
	if _, err := c.Get(ctx, ""); !errors.Is(err, cache.ErrEmptyKey) {
		t.Fatalf("Get(\"\"): %v", err)
	}
	if err := c.Set(ctx, "", "v"); !errors.Is(err, cache.ErrEmptyKey) {
		t.Fatalf("Set(\"\"): %v", err)
	}
	if err := c.Delete(ctx, "a", ""); !errors.Is(err, cache.ErrEmptyKey) {
		t.Fatalf("Delete(\"\"): %v", err)
	}
	if err := c.Set(ctx, "big", strings.Repeat("x", 200)); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of 200 bytes with MaxValueBytes 100: %v", err)
	}
	if err := c.Set(ctx, "k", "v", cache.WithTTL(0)); !errors.Is(err, cache.ErrInvalidArgument) || !strings.Contains(err.Error(), "WithTTL") {
		t.Fatalf("WithTTL(0): %v", err)
	}
	odd := "\x00 {tag} :\xff\n"
	if err := c.Set(ctx, odd, "v"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, odd, "v")
	c.Close()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

// TestCoherence: client A caches a key in its local tier; B changes it (or
// the server loses it, or A's tracking connection dies); A's next Gets
// return the new state within 50 ms and never the old value after that.
func TestCoherence(t *testing.T) {
	tests := []struct {
		name    string
		private bool // needs a server of its own
		change  func(t *testing.T, srv *redistest.Server, b *cache.Cache[string], aName, key string)
		want    string // "" means ErrNotFound
	}{
		{"set", false, func(t *testing.T, _ *redistest.Server, b *cache.Cache[string], _, key string) {
			if err := b.Set(context.Background(), key, "new"); err != nil {
				t.Fatal(err)
			}
		}, "new"},
		{"delete", false, func(t *testing.T, _ *redistest.Server, b *cache.Cache[string], _, key string) {
			if err := b.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"flushall", true, func(t *testing.T, srv *redistest.Server, _ *cache.Cache[string], _, _ string) {
			srv.FlushAll(t)
		}, ""},
		{"client-kill", false, func(t *testing.T, srv *redistest.Server, b *cache.Cache[string], aName, key string) {
			srv.KillClients(t, aName)
			if err := b.Set(context.Background(), key, "new"); err != nil {
				t.Fatal(err)
			}
		}, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				if tt.private {
					srv = redistest.PrivateLike(t, srv)
				}
				ctx := context.Background()
				name := cacheName(t)
				aName := strings.NewReplacer(" ", "_", ":", "_").Replace(name + "-a")
				a := newCache(t, namedClient(t, srv, aName), name, cache.Options[string]{TTL: time.Hour})
				b := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour})
				if err := b.Set(ctx, "k", "old"); err != nil {
					t.Fatal(err)
				}
				eventually(t, 5*time.Second, "A caches the key locally", func() bool {
					mustGet(t, a, "k", "old")
					return a.Stats().LocalHits > 0
				})

				tt.change(t, srv, b, aName, "k")

				current := func() bool {
					v, err := a.Get(ctx, "k")
					if tt.want == "" {
						return errors.Is(err, cache.ErrNotFound)
					}
					return err == nil && v == tt.want
				}
				eventually(t, 50*time.Millisecond, "A sees the change", current)
				for i := range 200 {
					if !current() {
						t.Fatalf("Get %d after the change returned the old state", i)
					}
				}
			})
		})
	}
}

// TestInvalidationDuringRead delivers an invalidation while A's read is in
// flight (between the reply and the local insert): the old value must not
// stay in A's local tier.
func TestInvalidationDuringRead(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		client := srv.Client(t)
		// The read under test is tracked: its reply may enter the tier.
		a := newCache(t, client, name, cache.Options[string]{TTL: time.Hour, AdmitFirstRead: true})
		b := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour})
		if err := b.Set(ctx, "k", "old"); err != nil {
			t.Fatal(err)
		}
		delivered := make(chan string, 16)
		defer client.Subscribe(a.RedisKey("k"), subscriberFunc(func(key string) {
			select {
			case delivered <- key:
			default:
			}
		}))()

		var fired atomic.Bool
		a.SetAfterRemoteRead(func(key string) {
			if fired.Swap(true) {
				return
			}
			// Another process writes; wait until A's hub has delivered the
			// invalidation (the cache subscribed first, so it has seen it).
			if err := b.Set(ctx, "k", "new"); err != nil {
				t.Error(err)
			}
			select {
			case <-delivered:
			case <-time.After(5 * time.Second):
				t.Error("no invalidation delivered within 5s")
			}
		})
		got, err := a.Get(ctx, "k")
		if err != nil || got != "old" {
			t.Fatalf("first Get = %q, %v; want the value read before the write", got, err)
		}
		if n := a.Stats().LocalEntries; n != 0 {
			t.Fatalf("local tier holds %d entries after an invalidation overtook the read", n)
		}
		mustGet(t, a, "k", "new")
	})
}

// subscriberFunc is a typecache.Subscriber that reports each key to f.
type subscriberFunc func(key string)

func (f subscriberFunc) Invalidate(key string) { f(key) }
func (f subscriberFunc) InvalidateAll()        {}

// TestReadYourWrites: Set (or Delete) then Get in the same process returns
// the new state every time, although rueidis's client-side cache may still
// hold the old bytes (the invalidation of an own write arrives after its
// reply).
//
// A concurrent reader keeps reads of the key in flight across the writes, so
// that replies read before a write arrive after it.
func TestReadYourWrites(t *testing.T) {
	for _, tt := range []struct {
		name              string
		local, concurrent bool
	}{{"local", true, false}, {"no-local", false, false}, {"local-concurrent-reader", true, true}, {"no-local-concurrent-reader", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				c := newCache(t, srv.Client(t), cacheName(t), cache.Options[int]{TTL: time.Hour, DisableLocal: !tt.local})
				if tt.concurrent {
					stop := make(chan struct{})
					var wg sync.WaitGroup
					defer wg.Wait()
					defer close(stop)
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
								_, _ = c.Get(ctx, "k")
							}
						}
					})
				}
				for i := range 2000 {
					if i%10 == 9 {
						if err := c.Delete(ctx, "k"); err != nil {
							t.Fatal(err)
						}
						if v, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
							t.Fatalf("iteration %d: Get after Delete = %d, %v", i, v, err)
						}
						continue
					}
					if err := c.Set(ctx, "k", i); err != nil {
						t.Fatal(err)
					}
					if v, err := c.Get(ctx, "k"); err != nil || v != i {
						t.Fatalf("iteration %d: Get after Set = %d, %v", i, v, err)
					}
				}
			})
		})
	}
}

// TestCorruptBytes: bytes a raw client wrote are a miss (counted as a
// decode error), and Fetch reloads and overwrites them.
// With split reads (the script reads the header, a GET in the same
// transaction the value: see cache.splitReads) too.
func TestCorruptBytes(t *testing.T) {
	for _, local := range []bool{true, false} { // Get's script, then its plain GET
		for _, split := range []bool{false, true} {
			t.Run(fmt.Sprintf("local-tier=%v/split=%v", local, split), func(t *testing.T) { testCorruptBytes(t, !local, split) })
		}
	}
}

func testCorruptBytes(t *testing.T, disableLocal, split bool) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		raw := srv.Raw(t)
		c := newCache(t, srv.Client(t), name, cache.Options[user]{TTL: time.Hour, DisableLocal: disableLocal})
		if split {
			c.SplitAllReads()
		}
		junks := []string{"", "garbage", "\xc1\x00", "\xc1\x00\x00\x00\xff\xff", "\xc1\x01\x00\x00x",
			"\xd0\x00\x06", // a header cut short
			// A header's layout byte and a version far ahead of the clock,
			// then bytes that are no envelope: such stamps must not refuse
			// the store as if they were of a newer generation.
			"\xdc\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff",
			"\xc4\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",                 // an earlier development layout
			"\xc2\x00\x06\x62\x06\x1b\xc8\xae\x32\x06\x62\x06\x1b\xd7\xef\x0c\x00\x00\xc1\x04\x01", // and another
			// An earlier release's layout: a version and a generation in 16
			// decimal digits each, then an absence's envelope.
			"17650000000000011765000000000001\xc1\x01\x00\x00",
		}
		for i, junk := range junks {
			key := string(rune('a' + i))
			if err := raw.Do(ctx, raw.B().Set().Key(c.RedisKey(key)).Value(junk).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("Get of %q: err = %v, want ErrNotFound", junk, err)
			}
			want := user{ID: i}
			got, err := c.Fetch(ctx, key, cache.LoaderFunc[user](func(context.Context, string) (user, error) { return want, nil }))
			if err != nil || got != want {
				t.Fatalf("Fetch over %q = %v, %v", junk, got, err)
			}
			mustGet(t, c, key, want)
		}
		if st := c.Stats(); st.DecodeErrors < uint64(len(junks)) || st.Loads != uint64(len(junks)) {
			t.Fatalf("stats: %+v, want ≥%d decode errors and %d loads", st, len(junks), len(junks))
		}
	})
}

// TestWrongTypeIsAnError: a key of another type is an error for Get, and
// Fetch answers from the loader and overwrites it; with split reads too.
func TestWrongTypeIsAnError(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Standalone(t)
	for _, tt := range []struct{ local, split bool }{
		{true, false}, {false, false}, // Get's script, then its plain GET
		{true, true}, {false, true},
	} {
		t.Run(fmt.Sprintf("local-tier=%v/split=%v", tt.local, tt.split), func(t *testing.T) {
			name := cacheName(t)
			raw := srv.Raw(t)
			opts := cache.Options[string]{TTL: time.Hour, DisableLocal: !tt.local}
			if tt.split {
				opts.StaleTTL = time.Second // a Get through the script, split
			}
			c := newCache(t, srv.Client(t), name, opts)
			if tt.split {
				c.SplitAllReads()
			}
			if err := raw.Do(ctx, raw.B().Lpush().Key(c.RedisKey("k")).Element("x").Build()).Error(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, cache.ErrNotFound) || !strings.Contains(err.Error(), `"k"`) {
				t.Fatalf("Get of a list: %v, want a Redis error naming the key", err)
			}
			got, err := c.Fetch(ctx, "k", cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil }))
			if err != nil || got != "v" {
				t.Fatalf("Fetch = %q, %v", got, err)
			}
			mustGet(t, c, "k", "v")
		})
	}
}

// TestGetWithoutLocalTier: with no local tier and no stale window, Get and
// GetMany read with plain GETs (Get's on an untracked connection), and
// still serve nothing written before a Clear, or absent, or past its TTL;
// with a stale window they read with the script, which also reads the
// key's PTTL. The servers are the test's own, so INFO commandstats counts
// its commands.
func TestGetWithoutLocalTier(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		c := newCache(t, srv.SteadyClient(t), name, cache.Options[int]{TTL: time.Hour, DisableLocal: true})
		if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get before Set: %v, want ErrNotFound", err)
		}
		if err := c.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		before := srv.CommandCounts(t)
		mustGet(t, c, "k", 1)
		if diff := cmp.Diff(map[string]int{"get": 1}, redistest.CommandDelta(before, srv.CommandCounts(t), "get", "eval", "evalsha", "pttl")); diff != "" {
			t.Errorf("Get's commands (-want +got):\n%s", diff)
		}
		srv.CheckLastRan(t, "Get", "get", false)
		before = srv.CommandCounts(t)
		if got, err := c.GetMany(ctx, []string{"k", "absent"}); err != nil || !maps.Equal(got, map[string]int{"k": 1}) {
			t.Fatalf("GetMany = %v, %v", got, err)
		}
		if diff := cmp.Diff(map[string]int{"get": 2}, redistest.CommandDelta(before, srv.CommandCounts(t), "get", "eval", "evalsha", "pttl")); diff != "" {
			t.Errorf("GetMany's commands (-want +got):\n%s", diff)
		}
		if err := c.Set(ctx, "short", 2, cache.WithTTL(cache.MinTTL)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(cache.MinTTL + 100*time.Millisecond)
		if _, err := c.Get(ctx, "short"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get past the TTL: %v, want ErrNotFound", err)
		}
		// A Clear in another process: this one learns the new generation
		// by Redis's invalidation, then reads "k" as written before it.
		other := newCache(t, srv.SteadyClient(t), name, cache.Options[int]{TTL: time.Hour, DisableLocal: true})
		if err := other.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
				return fmt.Errorf("Get after Clear = %d, %v; want ErrNotFound", v, err)
			}
			return nil
		})
		if got, err := c.GetMany(ctx, []string{"k"}); err != nil || len(got) != 0 {
			t.Fatalf("GetMany after Clear = %v, %v; want nothing", got, err)
		}
		if err := c.Set(ctx, "k", 3); err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "k", 3)

		stale := newCache(t, srv.SteadyClient(t), name+"-stale", cache.Options[int]{TTL: time.Hour, StaleTTL: time.Minute, DisableLocal: true})
		if err := stale.Set(ctx, "k", 4); err != nil {
			t.Fatal(err)
		}
		mustGet(t, stale, "k", 4) // its first: EVAL, after EVALSHA's NOSCRIPT
		before = srv.CommandCounts(t)
		mustGet(t, stale, "k", 4)
		if diff := cmp.Diff(map[string]int{"evalsha": 1, "get": 1, "pttl": 1}, redistest.CommandDelta(before, srv.CommandCounts(t), "get", "eval", "evalsha", "pttl")); diff != "" {
			t.Errorf("Get's commands with a stale window (-want +got):\n%s", diff)
		}
		for range 2 { // the first loads the script on "absent"'s node, on a cluster
			before = srv.CommandCounts(t)
			if got, err := stale.GetMany(ctx, []string{"k", "absent"}); err != nil || !maps.Equal(got, map[string]int{"k": 4}) {
				t.Fatalf("GetMany with a stale window = %v, %v", got, err)
			}
		}
		if diff := cmp.Diff(map[string]int{"evalsha": 2, "get": 2, "pttl": 1}, redistest.CommandDelta(before, srv.CommandCounts(t), "get", "eval", "evalsha", "pttl")); diff != "" {
			t.Errorf("GetMany's commands with a stale window (-want +got):\n%s", diff)
		}
	})
}

// writeCountingConn counts the writes to a connection after its handshake
// (the writes before its first read are the handshake's: HELLO, CLIENT
// TRACKING, ..., which rueidis sends when it dials, on first use). rueidis
// writes a pipeline in one go, so a batch of commands costs about one write
// on each connection it uses (rueidis spreads keys over a node's
// connections by slot).
type writeCountingConn struct {
	net.Conn
	writes atomic.Int64
	read   atomic.Bool
}

func (c *writeCountingConn) Write(p []byte) (int, error) {
	if c.read.Load() {
		c.writes.Add(1)
	}
	return c.Conn.Write(p)
}

func (c *writeCountingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

// countingClient returns a client on srv whose connections count their
// writes, and a function that reads the counts. rueidis writes a pipeline
// in one go, so a request and its reply cost one write on the connection
// that carries them: one round trip. A connection's handshake does not
// count: which of a node's connections a call takes, and so whether it
// dials one, is rueidis's choice.
func countingClient(t *testing.T, srv *redistest.Server) (*typecache.Client, func() []int64) {
	t.Helper()
	var mu sync.Mutex
	var conns []*writeCountingConn
	opt := srv.Option()
	// No topology polls (rueidis's and the client's) while counting.
	opt.ClusterOption.ShardsRefreshInterval = time.Hour
	opt.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		counted := &writeCountingConn{Conn: conn}
		mu.Lock()
		conns = append(conns, counted)
		mu.Unlock()
		return counted, nil
	}
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client, func() (counts []int64) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			counts = append(counts, c.writes.Load())
		}
		return counts
	}
}
