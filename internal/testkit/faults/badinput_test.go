package faults_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// oddKeys are keys and names that a careless client would mangle.
var oddKeys = []struct{ name, key string }{
	{"space", "with space"},
	{"newline", "new\nline"},
	{"crlf RESP injection", "x\r\n*1\r\n$4\r\nPING\r\n"},
	{"braces", "{user:1}"},
	{"closing brace first", "}{"},
	{"lone brace", "{"},
	{"NUL byte", "nul\x00byte"},
	{"invalid UTF-8", "\xff\xfe"},
	{"1 MB", strings.Repeat("k", 1<<20)},
}

// Scenario 6: odd keys, lock names and rate-limit keys work or fail with
// the package's error; nothing panics; on both topologies.
func TestBadKeys(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		client := srv.Client(t)
		prefix := redistest.Name(t)
		c, err := cache.New[string](client, prefix+"c", cache.Options[string]{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		locks, err := lock.New(client, lock.Options{Prefix: prefix + "lock"})
		if err != nil {
			t.Fatal(err)
		}
		defer locks.Close()
		limiter, err := ratelimit.New(client, ratelimit.Options{Limit: 5, Period: time.Minute, Prefix: prefix + "rl"})
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := session.New(client, session.Options[profile]{Prefix: prefix + "s"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, k := range oddKeys {
			t.Run(k.name, func(t *testing.T) {
				if err := c.Set(ctx, k.key, "v:"+k.name); err != nil {
					t.Fatalf("cache.Set: %v", err)
				}
				if v, err := c.Get(ctx, k.key); err != nil || v != "v:"+k.name {
					t.Fatalf("cache.Get = %q, %v", v, err)
				}
				if err := c.Delete(ctx, k.key); err != nil {
					t.Fatalf("cache.Delete: %v", err)
				}
				l, err := locks.TryAcquire(ctx, k.key)
				if err != nil {
					if !strings.HasPrefix(err.Error(), "lock: ") {
						t.Fatalf("lock.TryAcquire: %v, want a lock error", err)
					}
				} else if err := l.Release(ctx); err != nil {
					t.Fatalf("lock.Release: %v", err)
				}
				if res, err := limiter.Allow(ctx, k.key); err != nil || !res.Allowed || res.Source != ratelimit.FromRedis {
					t.Fatalf("ratelimit.Allow = %+v, %v", res, err)
				}
				if _, err := sessions.Get(ctx, k.key); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("session.Get(odd token) = %v, want ErrNotFound", err)
				}
			})
		}
		t.Run("empty", func(t *testing.T) {
			if err := c.Set(ctx, "", "v"); !errors.Is(err, cache.ErrEmptyKey) {
				t.Errorf("cache.Set(\"\") = %v", err)
			}
			if _, err := c.Get(ctx, ""); !errors.Is(err, cache.ErrEmptyKey) {
				t.Errorf("cache.Get(\"\") = %v", err)
			}
			if _, err := limiter.Allow(ctx, ""); !errors.Is(err, ratelimit.ErrEmptyKey) {
				t.Errorf("ratelimit.Allow(\"\") = %v", err)
			}
			if _, err := sessions.Get(ctx, ""); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("session.Get(\"\") = %v", err)
			}
			if l, err := locks.TryAcquire(ctx, ""); err == nil {
				l.Release(ctx)
				t.Errorf("lock.TryAcquire(\"\") succeeded: an empty lock name is a bug")
			}
		})
	})
}

// Values above the cache's limit are refused before anything is sent.
func TestOversizedValues(t *testing.T) {
	srv := redistest.Standalone(t)
	raw := srv.Raw(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		maxBytes int
		size     int
	}{
		{"configured 1 KiB", 1024, 2048},
		{"default 16 MiB", 0, cache.DefaultMaxValueBytes + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := redistest.Name(t) + "c"
			c, err := cache.New[string](srv.Client(t), name, cache.Options[string]{TTL: time.Minute, MaxValueBytes: tt.maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Set(ctx, "big", strings.Repeat("x", tt.size))
			if !errors.Is(err, cache.ErrTooLarge) || !strings.Contains(err.Error(), "MaxValueBytes") {
				t.Fatalf("Set of %d bytes = %v; want cache.ErrTooLarge naming MaxValueBytes", tt.size, err)
			}
			if n, err := raw.Do(ctx, raw.B().Exists().Key(cacheKey(name, "big")).Build()).AsInt64(); err != nil || n != 0 {
				t.Fatalf("EXISTS after a refused Set = %d, %v; want 0", n, err)
			}
			v, err := c.Fetch(ctx, "loaded-big", cache.LoaderFunc[string](func(context.Context, string) (string, error) {
				return strings.Repeat("y", tt.size), nil
			}))
			if err != nil || len(v) != tt.size {
				t.Fatalf("Fetch of a too-large loaded value = %d bytes, %v; want the value, uncached", len(v), err)
			}
		})
	}
}

// Options out of range fail in the constructors, naming the field.
func TestBadOptions(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	cacheOpts := []struct {
		field string
		opts  cache.Options[string]
	}{
		{field: "TTL", opts: cache.Options[string]{}},
		{field: "TTL", opts: cache.Options[string]{TTL: -time.Second}},
		{field: "TTL", opts: cache.Options[string]{TTL: time.Duration(math.MaxInt64)}},
		{field: "StaleTTL", opts: cache.Options[string]{TTL: time.Minute, StaleTTL: -time.Second}},
		{field: "Jitter", opts: cache.Options[string]{TTL: time.Minute, Jitter: math.NaN()}},
		{field: "Jitter", opts: cache.Options[string]{TTL: time.Minute, Jitter: 2}},
		{field: "EarlyRefreshBeta", opts: cache.Options[string]{TTL: time.Minute, EarlyRefreshBeta: math.Inf(1)}},
		{field: "EarlyRefreshBeta", opts: cache.Options[string]{TTL: time.Minute, EarlyRefreshBeta: math.NaN()}},
		{field: "MaxValueBytes", opts: cache.Options[string]{TTL: time.Minute, MaxValueBytes: -1}},
		{field: "LoadTimeout", opts: cache.Options[string]{TTL: time.Minute, LoadTimeout: -time.Second}},
	}
	for _, tt := range cacheOpts {
		t.Run("cache/"+tt.field, func(t *testing.T) {
			c, err := cache.New(client, "bad", tt.opts)
			if err == nil {
				c.Close()
				t.Fatalf("cache.New(%+v) succeeded", tt.opts)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("cache.New error %q does not name %s", err, tt.field)
			}
		})
	}
	t.Run("cache/WithTTL", func(t *testing.T) {
		c, err := cache.New[string](client, redistest.Name(t), cache.Options[string]{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, d := range []time.Duration{-time.Second, 0, cache.MaxTTL + time.Hour, time.Duration(math.MaxInt64)} {
			if err := c.Set(context.Background(), "k", "v", cache.WithTTL(d)); err == nil {
				t.Errorf("Set with WithTTL(%v) succeeded", d)
			}
		}
	})
	lockOpts := []struct {
		field string
		opts  lock.Options
	}{
		{"Validity", lock.Options{Validity: -time.Second}},
		{"ExtendInterval", lock.Options{Validity: time.Second, ExtendInterval: 2 * time.Second}},
		{"Prefix", lock.Options{Prefix: "a{b}"}},
		{"FenceTTL", lock.Options{FenceTTL: -time.Second}},
	}
	for _, tt := range lockOpts {
		t.Run("lock/"+tt.field, func(t *testing.T) {
			lk, err := lock.New(client, tt.opts)
			if err == nil {
				lk.Close()
				t.Fatalf("lock.New(%+v) succeeded", tt.opts)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("lock.New error %q does not name %s", err, tt.field)
			}
		})
	}
	rateOpts := []struct {
		field string
		opts  ratelimit.Options
	}{
		{"Limit", ratelimit.Options{Period: time.Second}},
		{"Period", ratelimit.Options{Limit: 1, Period: -time.Second}},
		{"Period", ratelimit.Options{Limit: 1 << 30, Period: time.Millisecond}},
		{"Burst", ratelimit.Options{Limit: 1, Period: time.Second, Burst: -1}},
		{"Prefix", ratelimit.Options{Limit: 1, Period: time.Second, Prefix: "{x}"}},
	}
	for _, tt := range rateOpts {
		t.Run("ratelimit/"+tt.field, func(t *testing.T) {
			_, err := ratelimit.New(client, tt.opts)
			if !errors.Is(err, ratelimit.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("ratelimit.New(%+v) = %v; want ErrInvalidOptions naming %s", tt.opts, err, tt.field)
			}
		})
	}
	t.Run("ratelimit/cost", func(t *testing.T) {
		l, err := ratelimit.New(client, ratelimit.Options{Limit: 3, Period: time.Second, Prefix: redistest.Name(t)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AllowN(context.Background(), "k", 0); !errors.Is(err, ratelimit.ErrInvalidCost) {
			t.Errorf("AllowN(0) = %v", err)
		}
		if _, err := l.AllowN(context.Background(), "k", 4); !errors.Is(err, ratelimit.ErrCostExceedsLimit) {
			t.Errorf("AllowN(4) with Limit 3 = %v", err)
		}
	})
	sessionOpts := []struct {
		field string
		opts  session.Options[profile]
	}{
		{"IdleTimeout", session.Options[profile]{IdleTimeout: -time.Second}},
		{"AbsoluteTimeout", session.Options[profile]{IdleTimeout: time.Hour, AbsoluteTimeout: time.Minute}},
		{"TouchThreshold", session.Options[profile]{IdleTimeout: time.Minute, TouchThreshold: time.Hour}},
		{"Prefix", session.Options[profile]{Prefix: "s{"}},
	}
	for _, tt := range sessionOpts {
		t.Run("session/"+tt.field, func(t *testing.T) {
			_, err := session.New(client, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("session.New(%+v) = %v; want an error naming %s", tt.opts, err, tt.field)
			}
		})
	}
}

// Malformed session cookies are no session: the handler runs, nothing
// fails, the cookie is cleared.
func TestMalformedSessionCookies(t *testing.T) {
	srv := redistest.Standalone(t)
	sessions, err := session.New(srv.Client(t), session.Options[profile]{Prefix: redistest.Name(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("A", 42) + "=", "%00", "a\x00b",
		strings.Repeat("é", 30), strings.Repeat("A", 4000)} {
		ran := false
		h := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = sessions.Current(r.Context()) == nil
		}))
		req := httptest.NewRequest("GET", "https://example.com/", nil)
		req.Header.Set("Cookie", session.DefaultCookieName+"="+value)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !ran {
			t.Errorf("cookie %.20q: status %d, handler ran without a session: %v", value, rec.Code, ran)
		}
	}
}

// Codecs fed random and damaged bytes return ErrMismatch or ErrCorrupt,
// never a panic; so does the cache when such bytes sit under a key.
func TestCodecsRandomBytes(t *testing.T) {
	compressed, err := codec.Compress(codec.MsgPack[profile](), codec.CompressOptions{Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := codec.Encrypt(codec.JSON[profile](), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 1, Secret: make([]byte, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	codecs := map[string]codec.Codec[profile]{
		"json": codec.JSON[profile](), "msgpack": codec.MsgPack[profile](), "compress": compressed, "encrypt": encrypted,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{nil, {}, {0xC1}, {0xC1, 1}, {0xC1, 2, 1}}
	for range pick(2000, 50000) {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		if len(b) > 2 && rng.IntN(2) == 0 { // a plausible header
			b[0], b[1], b[2] = 0xC1, byte(1+rng.IntN(6)), 1
		}
		inputs = append(inputs, b)
	}
	for name, c := range codecs {
		valid, err := c.Append(nil, profile{Name: "ada"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range valid { // every single-byte corruption and truncation
			damaged := append([]byte(nil), valid...)
			damaged[i] ^= 0x5A
			inputs = append(inputs, damaged, valid[:i])
		}
		for _, in := range inputs {
			v, err := c.Decode(in)
			if err == nil {
				continue // a valid frame by chance is possible only for damage the checksum cannot see
			}
			if !errors.Is(err, codec.ErrMismatch) && !errors.Is(err, codec.ErrCorrupt) {
				t.Errorf("%s.Decode(%x) = %v; want ErrMismatch or ErrCorrupt", name, in, err)
			}
			if v != (profile{}) {
				t.Errorf("%s.Decode(%x) returned %+v with an error", name, in, v)
			}
		}
	}

	srv := redistest.Standalone(t)
	raw := srv.Raw(t)
	ctx := context.Background()
	name := redistest.Name(t) + "c"
	c, err := cache.New[profile](srv.Client(t), name, cache.Options[profile]{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, in := range inputs[:200] {
		key := "garbage" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if err := raw.Do(ctx, raw.B().Set().Key(cacheKey(name, key)).Value(string(in)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get over garbage %x = %+v, %v; want ErrNotFound", in, v, err)
		}
		v, err := c.Fetch(ctx, key, cache.LoaderFunc[profile](func(context.Context, string) (profile, error) { return profile{Name: "fixed"}, nil }))
		if err != nil || v.Name != "fixed" {
			t.Fatalf("Fetch over garbage = %+v, %v; want the loaded value", v, err)
		}
		if v, err := c.Get(ctx, key); err != nil || v.Name != "fixed" {
			t.Fatalf("Get after Fetch overwrote garbage = %+v, %v", v, err)
		}
	}
	figure(t, "garbage values under cache keys", "%d read as misses, reloaded and overwritten; decode errors counted %d", 200, c.Stats().DecodeErrors)
}

// cacheKey is the Redis key of key's value in the cache named name.
func cacheKey(name, key string) string {
	space, err := keyspace.New(keyspace.Cache, name)
	if err != nil {
		panic(err)
	}
	return space.Key("", key)
}
