package keyspace_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// instanceNames are valid names and prefixes chosen to collide: prefixes of
// each other, the packages' own names and default prefixes, versions.
var instanceNames = []string{"user", "user.secret", "user@2", "lock", "cache", "default", "session", "a", "a.b"}

// userKeys are keys chosen to reach outside an instance: separators, hash
// tags, escapes, other packages' key shapes.
var userKeys = []string{"42", "secret:42", ":42", "{job}", "a}b", "}", "%7D", "l{42}", "lock:default:{job}", "f{job}"}

// instance is one package instance of the test: what it writes for a key,
// and how it removes a key (nil when removal is not by key).
type instance struct {
	name   string
	write  func(ctx context.Context, key string) error
	remove func(ctx context.Context, key string) error
}

// TestPackagesNeverShareKeys builds an instance of every package under every
// name above, writes every key above through each, and checks that each
// instance's Redis keys are its own — no two instances produce the same key,
// every key starts with its package and instance — and that removing an
// instance's keys through its own API leaves every other instance's keys in
// place.
func TestPackagesNeverShareKeys(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		client := srv.Client(t)
		raw := srv.Raw(t)
		srv.FlushAll(t)
		var instances []instance
		for _, name := range instanceNames {
			instances = append(instances, packageInstances(t, client, name)...)
		}
		owner := map[string]string{} // Redis key → instance
		keysOf := map[string][]string{}
		for _, in := range instances {
			before := allKeys(t, raw)
			for _, key := range userKeys {
				if err := in.write(ctx, key); err != nil {
					t.Fatalf("%s: write %q: %v", in.name, key, err)
				}
			}
			for _, k := range allKeys(t, raw) {
				if slices.Contains(before, k) {
					continue // an earlier instance's
				}
				owner[k] = in.name
				keysOf[in.name] = append(keysOf[in.name], k)
				pkg, rest, _ := strings.Cut(in.name, "/")
				if !strings.HasPrefix(k, pkg+":"+rest+":") {
					t.Errorf("%s wrote %q, outside %s:%s:", in.name, k, pkg, rest)
				}
			}
			if len(keysOf[in.name]) == 0 {
				t.Fatalf("%s wrote no key", in.name)
			}
		}
		// Removing one instance's keys through its API leaves the others'.
		for _, in := range instances {
			if in.remove == nil {
				continue
			}
			before := allKeys(t, raw)
			for _, key := range userKeys {
				if err := in.remove(ctx, key); err != nil {
					t.Fatalf("%s: remove %q: %v", in.name, key, err)
				}
			}
			after := allKeys(t, raw)
			for _, k := range before {
				if owner[k] != in.name && !slices.Contains(after, k) {
					t.Fatalf("%s removed %q, which belongs to %s", in.name, k, owner[k])
				}
			}
		}
	})
}

// allKeys lists every key on every master.
func allKeys(t *testing.T, raw rueidis.Client) []string {
	t.Helper()
	var keys []string
	for _, node := range raw.Nodes() {
		var cursor uint64
		for {
			entry, err := node.Do(context.Background(), node.B().Scan().Cursor(cursor).Count(1000).Build()).AsScanEntry()
			if err != nil {
				if strings.Contains(err.Error(), "MOVED") || strings.Contains(err.Error(), "READONLY") {
					break
				}
				t.Fatal(err)
			}
			keys = append(keys, entry.Elements...)
			if cursor = entry.Cursor; cursor == 0 {
				break
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// packageInstances returns one instance of every package named name.
func packageInstances(t *testing.T, client *typecache.Client, name string) []instance {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("instance %q: %v", name, err)
		}
	}
	c, err := cache.New[string](client, name, cache.Options[string]{TTL: time.Minute})
	must(err)
	t.Cleanup(c.Close)
	locker, err := lock.New(client, lock.Options{Prefix: name})
	must(err)
	t.Cleanup(locker.Close)
	gcra, err := ratelimit.New(client, ratelimit.Options{Prefix: name, Limit: 10, Period: time.Minute})
	must(err)
	window, err := ratelimit.New(client, ratelimit.Options{Prefix: name, Algorithm: ratelimit.FixedWindow, Limit: 10, Period: time.Minute})
	must(err)
	store, err := session.New[string](client, session.Options[string]{Prefix: name})
	must(err)
	t.Cleanup(store.Close)
	count, err := counter.New(client, name, counter.Options{TTL: time.Minute})
	must(err)
	board, err := leaderboard.New(client, name, leaderboard.Options{TTL: time.Minute})
	must(err)
	t.Cleanup(board.Close)
	held := map[string]*lock.Lock{}
	return []instance{
		{name: "cache/" + name,
			write:  func(ctx context.Context, key string) error { return c.Set(ctx, key, "v") },
			remove: func(ctx context.Context, key string) error { return c.Delete(ctx, key) }},
		{name: "lock/" + name,
			write: func(ctx context.Context, key string) error {
				l, err := locker.TryAcquire(ctx, key)
				held[key] = l
				return err
			},
			remove: func(ctx context.Context, key string) error { return held[key].Release(ctx) }},
		{name: "ratelimit/" + name, write: func(ctx context.Context, key string) error {
			if _, err := gcra.Allow(ctx, key); err != nil {
				return err
			}
			_, err := window.Allow(ctx, key)
			return err
		}},
		{name: "session/" + name, write: func(ctx context.Context, key string) error {
			_, err := store.Create(ctx, key, "data")
			return err
		}, remove: func(ctx context.Context, key string) error { return store.DestroyAll(ctx, key) }},
		{name: "counter/" + name,
			write:  func(ctx context.Context, key string) error { _, err := count.Add(ctx, key, 1); return err },
			remove: func(ctx context.Context, key string) error { return count.Reset(ctx, key) }},
		{name: "leaderboard/" + name,
			write:  func(ctx context.Context, key string) error { return board.Add(ctx, key, 1) },
			remove: func(ctx context.Context, key string) error { return board.Remove(ctx, key) }},
	}
}

// TestReproductions are the collisions of the old layouts, as tests.
func TestReproductions(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		client := srv.Client(t)
		// A cache named "user" could read a cache named "user:secret"'s
		// entries with the key "secret:42": such a name is now refused, and
		// "user.secret" does not meet "user".
		if _, err := cache.New[string](client, "user:secret", cache.Options[string]{TTL: time.Minute}); !errors.Is(err, cache.ErrInvalidOptions) {
			t.Fatalf("cache name with ':': err = %v", err)
		}
		if _, err := cache.New[string](client, "a{b}", cache.Options[string]{TTL: time.Minute}); !errors.Is(err, cache.ErrInvalidOptions) {
			t.Fatalf("cache name with braces: err = %v", err)
		}
		secret, _ := cache.New[string](client, "user.secret", cache.Options[string]{TTL: time.Minute})
		defer secret.Close()
		user, _ := cache.New[string](client, "user", cache.Options[string]{TTL: time.Minute})
		defer user.Close()
		if err := secret.Set(ctx, "42", "s3cret"); err != nil {
			t.Fatal(err)
		}
		if v, err := user.Get(ctx, "secret:42"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("cache user read %q, %v under secret:42", v, err)
		}
		// A cache named "lock" could delete an application's lock: now the
		// lock lives under lock:default:{job}, out of every cache's reach.
		locks, _ := cache.New[string](client, "lock", cache.Options[string]{TTL: time.Minute})
		defer locks.Close()
		locker, err := lock.New(client, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer locker.Close()
		l, err := locker.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"{job}", "default:{job}", ":default:{job}"} {
			if err := locks.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Extend(ctx, time.Second); err != nil {
			t.Fatalf("the lock was freed by a cache's Delete: %v", err)
		}
		_ = l.Release(ctx)
		// The cache's load leases lived in the lock namespace: a load of
		// cache "user" key "42" used the application lock "user:42" and
		// reset its fencing counter's expiry. Leases are the cache's own now.
		appLock, err := locker.TryAcquire(ctx, "user:42")
		if err != nil {
			t.Fatal(err)
		}
		token := appLock.Token()
		if _, err := user.Fetch(ctx, "42", cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil })); err != nil {
			t.Fatalf("a cache load waited on an application lock: %v", err)
		}
		_ = appLock.Release(ctx)
		again, err := locker.TryAcquire(ctx, "user:42")
		if err != nil {
			t.Fatal(err)
		}
		defer again.Release(ctx)
		if again.Token() <= token {
			t.Fatalf("fencing token went from %d to %d", token, again.Token())
		}
	})
}

// TestKeySlotAgreesWithRedis compares KeySlot with CLUSTER KEYSLOT for keys
// with and without hash tags, empty tags, unclosed braces and the keys the
// packages build.
func TestKeySlotAgreesWithRedis(t *testing.T) {
	srv := redistest.Cluster(t)
	r := srv.Raw(t)
	keys := []string{"", "foo", "{foo}bar", "x{foo}{bar}", "{}foo", "a{}b{c}", "{", "}{", "a{b", "{{a}}", "é{ü}"}
	for _, name := range instanceNames {
		space, err := keyspace.New(keyspace.Cache, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range userKeys {
			keys = append(keys, space.Key("v", key))
		}
	}
	for _, key := range keys {
		want, err := r.Do(context.Background(), r.B().ClusterKeyslot().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if got := keyspace.KeySlot(key); int64(got) != want {
			t.Errorf("KeySlot(%q) = %d, CLUSTER KEYSLOT says %d", key, got, want)
		}
	}
}
