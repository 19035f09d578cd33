package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/closetest"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestClosed: after the Cache's Close or its Client's, every call fails
// with ErrClosed, none serves the local tier (which holds "k"), and no
// loader or writer runs; New fails on a closed Client.
func TestClosed(t *testing.T) {
	closetest.Run(t, cache.ErrClosed, func(t *testing.T, c *typecache.Client) closetest.Instance {
		name := cacheName(t)
		ch := newCache(t, c, name, cache.Options[user]{})
		ctx := context.Background()
		if err := ch.Set(ctx, "k", user{ID: 1}); err != nil {
			t.Fatal(err)
		}
		mustGet(t, ch, "k", user{ID: 1}) // a first read: untracked
		mustGet(t, ch, "k", user{ID: 1}) // the second: into the local tier
		loader := cache.LoaderFunc[user](func(context.Context, string) (user, error) {
			t.Error("Fetch called its loader after Close")
			return user{}, nil
		})
		batch := cache.BatchLoaderFunc[user](func(context.Context, []string) (map[string]user, error) {
			t.Error("FetchMany called its loader after Close")
			return nil, nil
		})
		writer := cache.WriterFunc[user](func(context.Context, string, user) error {
			t.Error("Put called its writer after Close")
			return nil
		})
		return closetest.Instance{
			Close: ch.Close,
			Calls: closetest.Calls{
				"Clear":  ch.Clear,
				"Delete": func(ctx context.Context) error { return ch.Delete(ctx, "k") },
				"Fetch/hit": func(ctx context.Context) error {
					_, err := ch.Fetch(ctx, "k", loader)
					return err
				},
				"Fetch/miss": func(ctx context.Context) error {
					_, err := ch.Fetch(ctx, "missing", loader)
					return err
				},
				"FetchMany": func(ctx context.Context) error {
					_, err := ch.FetchMany(ctx, []string{"k", "missing"}, batch)
					return err
				},
				"Get":     func(ctx context.Context) error { _, err := ch.Get(ctx, "k"); return err },
				"GetMany": func(ctx context.Context) error { _, err := ch.GetMany(ctx, []string{"k"}); return err },
				"Put":     func(ctx context.Context) error { return ch.Put(ctx, "k", user{ID: 2}, writer) },
				"Set":     func(ctx context.Context) error { return ch.Set(ctx, "k", user{ID: 2}) },
				"SetMany": func(ctx context.Context) error { return ch.SetMany(ctx, map[string]user{"k": {ID: 2}}) },
			},
			ClientOnly: closetest.Calls{
				"New": func(context.Context) error {
					_, err := cache.New(c, name, cache.Options[user]{TTL: time.Minute})
					return err
				},
			},
		}
	})
}

// TestFetchOnClientClosedWhileWaiting: a Fetch waiting for another
// process's load when its Client closes fails with ErrClosed; it does not
// take the failed read again for an outage and call its loader.
func TestFetchOnClientClosedWhileWaiting(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := cacheName(t)
		ctx := context.Background()
		loading, release := make(chan struct{}), make(chan struct{})
		holder := newCache(t, srv.Client(t), name, cache.Options[user]{})
		held := make(chan error, 1)
		go func() {
			_, err := holder.Fetch(ctx, "k", cache.LoaderFunc[user](func(context.Context, string) (user, error) {
				close(loading)
				<-release
				return user{ID: 1}, nil
			}))
			held <- err
		}()
		<-loading
		client := srv.Client(t)
		waiter := newCache(t, client, name, cache.Options[user]{})
		waiter.SetOnLeaseBusy(func(string) { client.Close() })
		_, err := waiter.Fetch(ctx, "k", cache.LoaderFunc[user](func(context.Context, string) (user, error) {
			t.Error("Fetch called its loader on a closed Client")
			return user{}, nil
		}))
		close(release)
		if !errors.Is(err, cache.ErrClosed) || errors.Is(err, typecache.ErrUnavailable) {
			t.Fatalf("Fetch on a Client closed while it waited: %v; want an error matching %v", err, cache.ErrClosed)
		}
		if err := <-held; err != nil {
			t.Fatal(err)
		}
	})
}
