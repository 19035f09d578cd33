package cache

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/redistest"
)

// recycleSpy passes every call to a rueidis.Client and records the commands
// that rueidis put back into its pool after the call: a recycled command's
// slice is emptied (or already reused), so it no longer reads as sent.
type recycleSpy struct {
	rueidis.Client

	mu       sync.Mutex
	sent     int
	recycled []string
}

func (s *recycleSpy) watch(cmds ...[]string) func(after ...[]string) {
	before := make([][]string, len(cmds))
	for i, c := range cmds {
		before[i] = slices.Clone(c)
	}
	return func(after ...[]string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range before {
			s.sent++
			if !slices.Equal(before[i], after[i]) {
				s.recycled = append(s.recycled, strings.Join(before[i][:min(2, len(before[i]))], " "))
			}
		}
	}
}

func (s *recycleSpy) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	done := s.watch(cmd.Commands())
	defer func() { done(cmd.Commands()) }()
	return s.Client.Do(ctx, cmd)
}

func (s *recycleSpy) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	commands := func() [][]string {
		out := make([][]string, len(multi))
		for i := range multi {
			out[i] = multi[i].Commands()
		}
		return out
	}
	done := s.watch(commands()...)
	defer func() { done(commands()...) }()
	return s.Client.DoMulti(ctx, multi...)
}

func (s *recycleSpy) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	done := s.watch(cmd.Commands())
	defer func() { done(cmd.Commands()) }()
	return s.Client.DoCache(ctx, cmd, ttl)
}

func (s *recycleSpy) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	commands := func() [][]string {
		out := make([][]string, len(multi))
		for i := range multi {
			out[i] = multi[i].Cmd.Commands()
		}
		return out
	}
	done := s.watch(commands()...)
	defer func() { done(commands()...) }()
	return s.Client.DoMultiCache(ctx, multi...)
}

// TestCommandsArePinned: rueidis recycles a command into its pool when a
// call succeeds, even when the call was retried after a broken connection
// whose writer goroutine may still be reading the command (a data race under
// CLIENT KILL, faults finding F1). Every command the Cache sends is pinned,
// so rueidis never recycles it: the spy sees each one intact after its call,
// on every path (Get's read and read-your-writes re-read, Set, Delete,
// Fetch's load and store, FetchMany's read and pipelined stores).
func TestCommandsArePinned(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		c, err := New[string](srv.Client(t), strings.TrimSuffix(redistest.Prefix(t), ":"),
			Options[string]{TTL: time.Minute, DisableLocal: true, DisableStampedeLock: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		spy := &recycleSpy{Client: c.redis}
		c.redis = spy
		ctx := context.Background()
		load := LoaderFunc[string](func(context.Context, string) (string, error) { return "loaded", nil })
		loadMany := BatchLoaderFunc[string](func(_ context.Context, keys []string) (map[string]string, error) {
			return map[string]string{keys[0]: "loaded"}, nil
		})

		if err := c.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		for range 2 { // a remote read, then a client-side cache hit
			if v, err := c.Get(ctx, "k"); err != nil || v != "v" {
				t.Fatalf("Get = %q, %v", v, err)
			}
		}
		c.writes.add("k") // an own write whose invalidation has not arrived: Get reads the server again
		if v, err := c.Get(ctx, "k"); err != nil || v != "v" {
			t.Fatalf("Get after an own write = %q, %v", v, err)
		}
		if v, err := c.Fetch(ctx, "cold", load); err != nil || v != "loaded" {
			t.Fatalf("Fetch = %q, %v", v, err)
		}
		if _, err := c.FetchMany(ctx, []string{"cold-1", "cold-2", "k"}, loadMany); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "k", "cold"); err != nil {
			t.Fatal(err)
		}

		spy.mu.Lock()
		defer spy.mu.Unlock()
		if spy.sent < 10 {
			t.Fatalf("only %d commands went through the spy", spy.sent)
		}
		if len(spy.recycled) > 0 {
			t.Fatalf("rueidis recycled %d of %d commands (not pinned): %q", len(spy.recycled), spy.sent, spy.recycled)
		}
	})
}
