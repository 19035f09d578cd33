package typecache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// readTracked reads key with DoCache so that the server tracks it for c.
func readTracked(t *testing.T, c *typecache.Client, key string) {
	t.Helper()
	r := c.Redis()
	if err := r.DoCache(context.Background(), r.B().Get().Key(key).Cache(), time.Minute).Error(); err != nil && !rueidis.IsRedisNil(err) {
		t.Fatalf("DoCache GET %s: %v", key, err)
	}
}

func set(t *testing.T, r rueidis.Client, key, value string) {
	t.Helper()
	if err := r.Do(context.Background(), r.B().Set().Key(key).Value(value).Build()).Error(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
}

func TestSubscriberReceivesInvalidatedKey(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		prefix := redistest.Prefix(t)
		client := srv.Client(t)
		writer := srv.Raw(t)
		tracked, other := redistest.NewRecorder(), redistest.NewRecorder()
		defer client.Subscribe(prefix+"a:", tracked)()
		defer client.Subscribe(prefix+"b:", other)()

		key := prefix + "a:k"
		readTracked(t, client, key)
		set(t, writer, key, "v1")

		if got := tracked.NextKey(t); got != key {
			t.Fatalf("invalidated key = %q, want %q", got, key)
		}
		select {
		case k := <-other.Keys():
			t.Fatalf("subscriber of another prefix got %q", k)
		default:
		}
	})
}

func TestUserOnInvalidationsStillCalled(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		key := redistest.Prefix(t) + "k"
		seen := make(chan string, 16)
		opt := srv.Option()
		opt.OnInvalidations = func(messages []rueidis.RedisMessage) {
			for _, m := range messages {
				if s, err := m.ToString(); err == nil {
					select {
					case seen <- s:
					default:
					}
				}
			}
		}
		client, err := typecache.NewClient(opt)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		hub := redistest.NewRecorder()
		defer client.Subscribe("", hub)()

		readTracked(t, client, key)
		set(t, srv.Raw(t), key, "v")
		if got := hub.NextKey(t); got != key {
			t.Fatalf("subscriber got %q, want %q", got, key)
		}
		select {
		case got := <-seen:
			if got != key {
				t.Fatalf("user callback got %q, want %q", got, key)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("user's OnInvalidations was not called")
		}
	})
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	srv := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	client := srv.Client(t)
	writer := srv.Raw(t)
	gone, stays := redistest.NewRecorder(), redistest.NewRecorder()
	unsubscribe := client.Subscribe(prefix, gone)
	defer client.Subscribe(prefix, stays)()
	unsubscribe()
	unsubscribe() // a second call is harmless

	readTracked(t, client, prefix+"k")
	set(t, writer, prefix+"k", "v")
	stays.NextKey(t) // delivery happened...
	select {
	case k := <-gone.Keys(): // ...but not to the removed subscriber
		t.Fatalf("unsubscribed recorder got %q", k)
	default:
	}
}

func TestFlushAllReachesSubscribers(t *testing.T) {
	tests := []struct {
		name  string
		cause func(t *testing.T, srv *redistest.Server, clientName string)
	}{
		{"client-kill", func(t *testing.T, srv *redistest.Server, name string) { srv.KillClients(t, name) }},
		{"flushall", func(t *testing.T, srv *redistest.Server, _ string) { srv.FlushAll(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				if tt.name == "flushall" {
					srv = redistest.PrivateLike(t, srv)
				}
				prefix := redistest.Prefix(t)
				opt := srv.Option()
				opt.ClientName = strings.TrimSuffix(prefix, ":")
				client, err := typecache.NewClient(opt)
				if err != nil {
					t.Fatal(err)
				}
				defer client.Close()
				rec := redistest.NewRecorder()
				defer client.Subscribe(prefix, rec)()

				readTracked(t, client, prefix+"k")
				tt.cause(t, srv, opt.ClientName)
				rec.WaitFlush(t)
			})
		})
	}
}

func TestCloseTellsSubscribersToFlush(t *testing.T) {
	srv := redistest.Standalone(t)
	client, err := typecache.NewClient(srv.Option())
	if err != nil {
		t.Fatal(err)
	}
	rec := redistest.NewRecorder()
	client.Subscribe("", rec)
	client.Close()
	rec.WaitFlush(t)
}

func TestCloseTwice(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		client, err := typecache.NewClient(srv.Option())
		if err != nil {
			t.Fatal(err)
		}
		client.Close()
		client.Close() // a deferred Close after an explicit one must not panic
	})
}
