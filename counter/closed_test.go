package counter_test

import (
	"context"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/closetest"
)

// TestClosed: after a Buffered's Close, Add and Get fail with ErrClosed;
// after the Client's Close, every call of a Counter, a Windowed and a
// Buffered does, and so do the constructors.
func TestClosed(t *testing.T) {
	closetest.Run(t, counter.ErrClosed, func(t *testing.T, c *typecache.Client) closetest.Instance {
		ctr := newCounter(t, c, time.Minute)
		win, err := counter.NewWindowed(c, "closed", counter.WindowOptions{Window: time.Minute, Keep: 2})
		if err != nil {
			t.Fatal(err)
		}
		buf, err := ctr.Buffered(counter.BufferOptions{FlushInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = buf.Close(context.Background()) })
		if err := buf.Add("pending", 1); err != nil {
			t.Fatal(err)
		}
		return closetest.Instance{
			Close: func() {
				if err := buf.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
			},
			Calls: closetest.Calls{
				"Buffered.Add": func(context.Context) error { return buf.Add("k", 1) },
				"Buffered.Get": func(ctx context.Context) error { _, err := buf.Get(ctx, "k"); return err },
			},
			ClientOnly: closetest.Calls{
				"Counter.Add":     func(ctx context.Context) error { _, err := ctr.Add(ctx, "k", 1); return err },
				"Counter.Get":     func(ctx context.Context) error { _, err := ctr.Get(ctx, "k"); return err },
				"Counter.GetMany": func(ctx context.Context) error { _, err := ctr.GetMany(ctx, []string{"k", "j"}); return err },
				"Counter.Reset":   func(ctx context.Context) error { return ctr.Reset(ctx, "k") },
				"Counter.TTL":     func(ctx context.Context) error { _, err := ctr.TTL(ctx, "k"); return err },
				"Windowed.Add":    func(ctx context.Context) error { _, err := win.Add(ctx, "k", 1); return err },
				"Windowed.Last":   func(ctx context.Context) error { _, err := win.Last(ctx, "k", 2); return err },
				"Windowed.Sum":    func(ctx context.Context) error { _, err := win.Sum(ctx, "k", 2); return err },
				"Buffered.Flush":  buf.Flush,
				"Buffered.Close":  buf.Close,
				"New": func(context.Context) error {
					_, err := counter.New(c, "closed", counter.Options{TTL: time.Minute})
					return err
				},
				"NewWindowed": func(context.Context) error {
					_, err := counter.NewWindowed(c, "closed", counter.WindowOptions{Window: time.Minute, Keep: 2})
					return err
				},
				"Counter.Buffered": func(context.Context) error { _, err := ctr.Buffered(counter.BufferOptions{}); return err },
			},
		}
	})
}
