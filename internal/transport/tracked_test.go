package transport_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestDoTracked checks that a script's reads sent through DoTracked are
// tracked: a later write by another client reaches the subscriber, and a
// control read sent with plain Do is not tracked.
func TestDoTracked(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		c := clientconn.Of(s.Client(t))
		if !c.Tracks("") {
			t.Fatal("Tracking() = false on a client with client-side caching")
		}
		rec := redistest.NewRecorder()
		prefix := redistest.Prefix(t)
		defer c.Subscribe(prefix, rec)()
		other := s.Raw(t)
		tracked, untracked := prefix+"{a}tracked", prefix+"{a}untracked"

		for _, tc := range []struct {
			name string
			do   func(cmd rueidis.Completed) (rueidis.RedisMessage, error)
			key  string
		}{
			{"untracked", func(cmd rueidis.Completed) (rueidis.RedisMessage, error) { return c.Redis().Do(ctx, cmd).ToMessage() }, untracked},
			{"tracked", func(cmd rueidis.Completed) (rueidis.RedisMessage, error) { return c.DoTracked(ctx, cmd) }, tracked},
		} {
			if err := other.Do(ctx, other.B().Set().Key(tc.key).Value("v1").Build()).Error(); err != nil {
				t.Fatal(err)
			}
			// EVAL, so that NOSCRIPT cannot happen here.
			cmd := c.Redis().B().Eval().Script(scriptBody).Numkeys(2).Key(tc.key, tc.key+":lease").Build()
			msg, err := tc.do(cmd)
			if v, _ := msg.ToString(); err != nil || v != "v1" {
				t.Fatalf("%s read = %q, %v; want v1", tc.name, v, err)
			}
		}

		// Both keys change; only the tracked one may be reported.
		for _, key := range []string{untracked, tracked} {
			if err := other.Do(ctx, other.B().Set().Key(key).Value("v2").Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		if got := rec.NextKey(t); got != tracked {
			t.Fatalf("invalidation for %q, want only %q", got, tracked)
		}

		sha := c.Redis().B().Evalsha().Sha1("0000000000000000000000000000000000000000").Numkeys(1).Key(tracked).Build()
		if _, err := c.DoTracked(ctx, sha); !isRedisErr(err) {
			t.Fatalf("EVALSHA of an unknown script: err = %v, want the NOSCRIPT reply", err)
		}
	})
}

const scriptBody = "redis.call('SET', KEYS[2], 'lease', 'PX', 60000); return redis.call('GET', KEYS[1])"

func TestDoTrackedWithoutCache(t *testing.T) {
	s := redistest.Standalone(t)
	opt := s.Option()
	opt.DisableCache = true
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := clientconn.Of(client)
	if c.Tracks("") || c.Tracks("any:") {
		t.Fatal("Tracking() or Tracks = true with DisableCache")
	}
	key := redistest.Prefix(t) + "k"
	if _, err := c.DoTracked(context.Background(), c.Redis().B().Get().Key(key).Build()); !rueidis.IsRedisNil(err) {
		t.Fatalf("DoTracked without tracking: err = %v, want redis nil", err)
	}
}

// TestTrackingModes: which tracking options let a client keep what it
// read, and in which Redis notifies it of its own writes, as Redis itself
// reports of the client's connection (CLIENT TRACKINGINFO).
func TestTrackingModes(t *testing.T) {
	for _, tt := range []struct {
		options  []string
		tracking bool
		spaces   map[string]bool // key spaces and whether Tracks them
	}{
		{nil, true, map[string]bool{"": true, "lock:x:": true}},
		{[]string{"OPTIN"}, true, nil},
		{[]string{"OPTIN", "NOLOOP"}, true, nil},
		{[]string{"BCAST"}, true, map[string]bool{"": true, "lock:x:": true}},
		{[]string{"BCAST", "PREFIX", "app:"}, false, map[string]bool{"": false, "app:": true, "app:cache:c:": true, "ap": false, "lock:x:": false}},
		{[]string{"bcast", "prefix", "cache:", "prefix", "session:"}, false, map[string]bool{"cache:c:": true, "session:s:": true, "lock:x:": false}},
	} {
		t.Run(strings.Join(tt.options, " "), func(t *testing.T) {
			opt := redistest.Standalone(t).Option()
			opt.ClientTrackingOptions = tt.options
			client, err := typecache.NewClient(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			c := clientconn.Of(client)
			if got := c.Tracks(""); got != tt.tracking {
				t.Fatalf("Tracking() = %v with %q, want %v", got, tt.options, tt.tracking)
			}
			for space, want := range tt.spaces {
				if got := c.Tracks(space); got != want {
					t.Errorf("Tracks(%q) = %v with %q, want %v", space, got, tt.options, want)
				}
			}
			r := c.Redis()
			info, err := r.Do(context.Background(), r.B().ClientTrackinginfo().Build()).AsMap()
			if err != nil {
				t.Fatal(err)
			}
			field := info["flags"]
			flags, _ := field.AsStrSlice()
			notified := slices.Contains(flags, "on") && !slices.Contains(flags, "noloop") && !slices.Contains(flags, "bcast")
			if got := c.NotifiesOwnWrites(); got != notified {
				t.Fatalf("NotifiesOwnWrites() = %v with %q; Redis reports tracking flags %q", got, tt.options, flags)
			}
		})
	}
}

func isRedisErr(err error) bool {
	_, ok := rueidis.IsRedisErr(err)
	return ok
}

// TestBroadcastKeySpaces: a client in BCAST mode with a PREFIX tracks the
// key space under it, and only that: a change of a key under the prefix
// reaches the subscribers, one of a key outside it does not, and Tracks
// says which is which.
func TestBroadcastKeySpaces(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		prefix := redistest.Prefix(t)
		inside, outside := prefix+"in:{a}k", prefix+"out:{a}k"
		opt := s.Option()
		opt.ClientTrackingOptions = []string{"BCAST", "PREFIX", prefix + "in:"}
		client, err := typecache.NewClient(opt)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		c := clientconn.Of(client)
		if !c.Tracks(prefix+"in:") || c.Tracks(prefix+"out:") || c.Tracks("") {
			t.Fatalf("Tracks(in) = %v, Tracks(out) = %v, Tracking() = %v; want true, false, false",
				c.Tracks(prefix+"in:"), c.Tracks(prefix+"out:"), c.Tracks(""))
		}
		rec := redistest.NewRecorder()
		defer c.Subscribe(prefix, rec)()
		for _, key := range []string{outside, inside} { // connects to the keys' node
			if _, err := c.DoTracked(ctx, c.Redis().B().Get().Key(key).Build()); !rueidis.IsRedisNil(err) {
				t.Fatalf("DoTracked GET %s: %v", key, err)
			}
		}
		other := s.Raw(t)
		for _, key := range []string{outside, inside} {
			if err := other.Do(ctx, other.B().Set().Key(key).Value("v").Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		if got := rec.NextKey(t); got != inside {
			t.Fatalf("invalidation for %q, want only %q", got, inside)
		}
	})
}
