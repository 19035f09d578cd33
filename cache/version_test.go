package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestVersionsDoNotShareEntries: two caches of one name with different
// Versions (an old and a new deploy) never read each other's entries, and
// each loads its own; a Clear of one leaves the other's entries.
func TestVersionsDoNotShareEntries(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		v1 := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour, Version: "v1"})
		v2 := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour, Version: "v2"})
		unversioned := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour})
		if err := v1.Set(ctx, "k", "old shape"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*cache.Cache[string]{v2, unversioned} {
			if v, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("another version reads %q, %v", v, err)
			}
		}
		v, err := v2.Fetch(ctx, "k", cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "new shape", nil }))
		if err != nil || v != "new shape" {
			t.Fatalf("v2's Fetch = %q, %v", v, err)
		}
		mustGet(t, v1, "k", "old shape")
		mustGet(t, v2, "k", "new shape")
		if v1.RedisKey("k") == v2.RedisKey("k") {
			t.Fatalf("both versions store under %s", v1.RedisKey("k"))
		}
		if err := v1.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		mustGet(t, v2, "k", "new shape")
	})
}

type addressV1 struct{ Street, City string }

type customerV1 struct {
	ID   int
	Name string
	Home addressV1
	Work *addressV1
}

// customerSameShape has customerV1's shape under other names.
type customerSameShape struct {
	ID   int
	Name string
	Home struct{ Street, City string }
	Work *struct{ Street, City string }
	note string // unexported: not encoded
}

type customerRenamed struct {
	ID       int
	FullName string
	Home     addressV1
	Work     *addressV1
}

type customerRetagged struct {
	ID   int `json:"id"`
	Name string
	Home addressV1
	Work *addressV1
}

type customerRetyped struct {
	ID   int64
	Name string
	Home addressV1
	Work *addressV1
}

type customerDeeper struct {
	ID   int
	Name string
	Home struct{ Street, City, Zip string }
	Work *addressV1
}

type node struct {
	Value    int
	Children []node
	Next     *node
}

type stamped struct {
	At time.Time
}

type stampedDuration struct {
	At time.Duration
}

// TestShapeVersion: the version follows the shape of the type, not its
// names: a field added, renamed, retagged or retyped, also deep inside,
// changes it; recursive types end; self-encoding types count by name.
func TestShapeVersion(t *testing.T) {
	base := cache.ShapeVersion[customerV1]()
	if base != cache.ShapeVersion[customerV1]() {
		t.Fatal("ShapeVersion is not deterministic")
	}
	newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[customerV1]{Version: base}) // a valid Version
	for _, tc := range []struct {
		name string
		got  string
		same bool
	}{
		{"same shape, other names", cache.ShapeVersion[customerSameShape](), true},
		{"field renamed", cache.ShapeVersion[customerRenamed](), false},
		{"field retagged", cache.ShapeVersion[customerRetagged](), false},
		{"field retyped", cache.ShapeVersion[customerRetyped](), false},
		{"nested field added", cache.ShapeVersion[customerDeeper](), false},
		{"pointer", cache.ShapeVersion[*customerV1](), false},
		{"slice", cache.ShapeVersion[[]customerV1](), false},
		{"recursive", cache.ShapeVersion[node](), false},
		{"time.Time by name", cache.ShapeVersion[stamped](), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.got == base) != tc.same {
				t.Fatalf("ShapeVersion = %q, customerV1's %q; same = %v, want %v", tc.got, base, tc.got == base, tc.same)
			}
		})
	}
	if cache.ShapeVersion[stamped]() == cache.ShapeVersion[stampedDuration]() {
		t.Fatal("a time.Time field and a time.Duration field have the same shape")
	}
}
