// Package closetest checks a package's side of the one lifecycle rule:
// after the Close of an instance, or of the typecache.Client it was built
// on, every public call fails with an error matching the package's
// ErrClosed and typecache.ErrClosed.
package closetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// Calls are public methods by name, each called with arguments that would
// succeed on an open instance.
type Calls map[string]func(ctx context.Context) error

// Instance is what a package test builds on a Client: its calls, and the
// instance's Close (nil for a type without one).
type Instance struct {
	Close func()
	Calls Calls
	// ClientOnly are calls that fail only once the Client is closed: the
	// package's constructors, and calls that an instance's Close leaves
	// working (a held lock's Release).
	ClientOnly Calls
}

// Run builds an instance with build on a fresh client, on a standalone
// server and on a cluster (redistest.Run), once per way to close it (the
// instance's Close, when it has one, and the Client's), closes it, and
// requires each call to fail with an error matching closed (the package's
// ErrClosed) and typecache.ErrClosed, and not typecache.ErrUnavailable (a
// closed instance is no outage); after the Client's Close, the ClientOnly
// calls too.
func Run(t *testing.T, closed error, build func(t *testing.T, c *typecache.Client) Instance) {
	t.Helper()
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) { run(t, srv, closed, build) })
}

func run(t *testing.T, srv *redistest.Server, closed error, build func(t *testing.T, c *typecache.Client) Instance) {
	for _, by := range []string{"instance", "client"} {
		t.Run("closed-"+by, func(t *testing.T) {
			c := srv.Client(t)
			in := build(t, c)
			calls := Calls{}
			maps.Copy(calls, in.Calls)
			switch {
			case by == "client":
				c.Close()
				maps.Copy(calls, in.ClientOnly)
			case in.Close == nil:
				t.Skip("no Close: only the Client's matters")
			default:
				in.Close()
			}
			for _, name := range slices.Sorted(maps.Keys(calls)) {
				t.Run(name, func(t *testing.T) {
					err := calls[name](context.Background())
					if !errors.Is(err, closed) || !errors.Is(err, typecache.ErrClosed) || errors.Is(err, typecache.ErrUnavailable) {
						t.Fatalf("%s after Close: %v; want an error matching %v and %v, not %v", name, err, closed, typecache.ErrClosed, typecache.ErrUnavailable)
					}
				})
			}
		})
	}
}
