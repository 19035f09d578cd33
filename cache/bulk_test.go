package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestGetMany: the values of the cached keys, local hits first; absent
// keys, cached absences and undecodable bytes are missing from the map and
// nothing is cached for them; a Redis error fails the call.
func TestGetMany(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		c := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		values := map[string]int{}
		var keys []string
		for i := range 20 {
			keys = append(keys, strconv.Itoa(i))
			if i < 10 {
				values[keys[i]] = i
			}
		}
		if err := c.SetMany(ctx, values); err != nil {
			t.Fatal(err)
		}
		// "10" cached as absent, "11" undecodable bytes.
		if _, err := c.Fetch(ctx, "10", cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 0, cache.ErrNotFound })); !errors.Is(err, cache.ErrNotFound) {
			t.Fatal(err)
		}
		raw := srv.Raw(t)
		if err := raw.Do(ctx, raw.B().Set().Key(c.RedisKey("11")).Value("junk").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		for round := range 2 {
			got, err := c.GetMany(ctx, append(keys, "3", "3"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 10 {
				t.Fatalf("round %d: GetMany = %v, want the 10 values", round, got)
			}
			for key, v := range got {
				if values[key] != v {
					t.Fatalf("round %d: %q = %d, want %d", round, key, v, values[key])
				}
			}
		}
		if st := c.Stats(); st.LocalHits == 0 {
			t.Fatalf("stats %+v: the second GetMany had no local hit", st)
		}
		// Nothing was cached as absent: a Fetch of a key GetMany missed loads.
		loads := 0
		if v, err := c.Fetch(ctx, "15", cache.LoaderFunc[int](func(context.Context, string) (int, error) { loads++; return 15, nil })); err != nil || v != 15 || loads != 1 {
			t.Fatalf("Fetch after GetMany = %d, %v, %d loads; want a load", v, err, loads)
		}
		// A key of another Redis type is an error, for the whole call.
		if err := raw.Do(ctx, raw.B().Lpush().Key(c.RedisKey("list")).Element("x").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if got, err := c.GetMany(ctx, []string{"list", "12", "13"}); err == nil || got != nil {
			t.Fatalf("GetMany over a list = %v, %v; want nil and an error", got, err)
		}
		if _, err := c.GetMany(ctx, []string{"a", ""}); !errors.Is(err, cache.ErrEmptyKey) {
			t.Fatalf("GetMany with an empty key: %v", err)
		}
	})
}

// TestSetMany: every value stored with the options' TTL, read back at once
// in this process (read your writes) and, after the invalidation, in
// another; a value too large to store fails the call before anything is
// written.
func TestSetMany(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		c := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour, MaxValueBytes: 100})
		other := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour})
		values := map[string]string{}
		for i := range 50 {
			values[strconv.Itoa(i)] = "old"
		}
		if err := c.SetMany(ctx, values); err != nil {
			t.Fatal(err)
		}
		if got, err := other.GetMany(ctx, []string{"1", "2"}); err != nil || got["1"] != "old" { // local in other now
			t.Fatalf("other's GetMany = %v, %v", got, err)
		}
		for key := range values {
			values[key] = "new"
		}
		if err := c.SetMany(ctx, values); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetMany(ctx, []string{"0", "1", "2", "49"})
		if err != nil || len(got) != 4 || got["1"] != "new" {
			t.Fatalf("GetMany after SetMany = %v, %v", got, err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if got, err := other.GetMany(ctx, []string{"1", "2"}); err != nil || got["1"] != "new" || got["2"] != "new" {
				return errors.New("another process still reads the old values")
			}
			return nil
		})
		err = c.SetMany(ctx, map[string]string{"1": "newer", "big": strings.Repeat("x", 200)})
		if !errors.Is(err, cache.ErrTooLarge) {
			t.Fatalf("SetMany with a value too large: %v", err)
		}
		mustGet(t, c, "1", "new")
		if err := c.SetMany(ctx, map[string]string{"": "v"}); !errors.Is(err, cache.ErrEmptyKey) {
			t.Fatalf("SetMany with an empty key: %v", err)
		}
		if err := c.SetMany(ctx, map[string]string{"a": "v"}, nil); !errors.Is(err, cache.ErrInvalidArgument) {
			t.Fatalf("SetMany with a nil option: %v", err)
		}
	})
}

// TestBulkRoundTrips: SetMany of 100 values and GetMany of 100 keys held
// in Redis each write at most once on each connection, the first read of
// the keys (untracked) and the second (tracked, which fills the local tier)
// alike; GetMany of keys held locally writes nothing. Another cache (process) reads locally, so that no
// invalidation of its own writes arrives after its reads.
func TestBulkRoundTrips(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		client, writesPerConn := countingClient(t, srv)
		c := newCache(t, client, name, cache.Options[int]{TTL: time.Hour})
		readerClient, readerWrites := countingClient(t, srv)
		reader := newCache(t, readerClient, name, cache.Options[int]{TTL: time.Hour})
		values := map[string]int{}
		var keys, others []string
		for i := range 100 {
			keys = append(keys, strconv.Itoa(i))
			values[keys[i]] = i
			others = append(others, "other"+strconv.Itoa(i))
		}
		// rueidis spreads pipelines over a node's connections and dials
		// each on first use: use them all, load the scripts and learn the
		// generation before counting.
		for range 10 {
			if err := c.SetMany(ctx, values); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetMany(ctx, keys); err != nil {
				t.Fatal(err)
			}
			if _, err := reader.GetMany(ctx, others); err != nil {
				t.Fatal(err)
			}
		}
		getAll := func(c *cache.Cache[int]) func() error {
			return func() error {
				got, err := c.GetMany(ctx, keys)
				if err == nil && len(got) != 100 {
					err = fmt.Errorf("GetMany = %d values", len(got))
				}
				return err
			}
		}
		for _, step := range []struct {
			what    string
			writes  func() []int64
			perConn int64 // at most, on each connection
			do      func() error
		}{
			{"SetMany of 100 values", writesPerConn, 1, func() error { return c.SetMany(ctx, values) }},
			{"GetMany of 100 keys held in Redis", writesPerConn, 1, getAll(c)},
			{"another process's GetMany of 100 keys held in Redis", readerWrites, 1, getAll(reader)},
			{"its second GetMany of the keys, tracked", readerWrites, 1, getAll(reader)},
			{"GetMany of 100 keys held locally", readerWrites, 0, getAll(reader)},
		} {
			before := step.writes()
			if err := step.do(); err != nil {
				t.Fatalf("%s: %v", step.what, err)
			}
			after := step.writes()
			for i := range after {
				if i < len(before) {
					after[i] -= before[i]
				}
				if after[i] > step.perConn {
					t.Fatalf("%s: writes per connection %v, want at most %d on each", step.what, after, step.perConn)
				}
			}
			t.Logf("%s: writes per connection %v", step.what, after)
		}
	})
}

// TestGetManyGroupsBySlot: tracked reads go in one transaction per cluster
// slot, the slot of each key's hash tag. Two keys whose whole Redis keys
// hash alike, although their tags lie in different slots, once shared a
// transaction: Redis refused it (CROSSSLOT), or rueidis sent one read to
// its own node, outside the transaction and untracked.
func TestGetManyGroupsBySlot(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		writer := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		reader := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		byWholeKey := map[uint16]string{}
		var a, b string
		for i := 0; b == ""; i++ {
			key := "k" + strconv.Itoa(i)
			hash := keyspace.Slot(writer.RedisKey(key)) // the hash of the whole key, not of its tag
			if other, ok := byWholeKey[hash]; ok && keyspace.KeySlot(writer.RedisKey(other)) != keyspace.KeySlot(writer.RedisKey(key)) {
				a, b = other, key
			}
			byWholeKey[hash] = key
		}
		if err := writer.SetMany(ctx, map[string]int{a: 1, b: 2}); err != nil {
			t.Fatal(err)
		}
		for range 3 { // from Redis untracked, then tracked (the case under test), then from the local tier
			got, err := reader.GetMany(ctx, []string{a, b})
			if err != nil || got[a] != 1 || got[b] != 2 {
				t.Fatalf("GetMany(%q, %q) = %v, %v", a, b, got, err)
			}
		}
	})
}
