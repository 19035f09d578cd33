package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
	"github.com/typecache/typecache/ratelimit"
)

func TestLocalDenyCache(t *testing.T) {
	s := time.Second
	local, redis := ratelimit.FromLocalDenyCache, ratelimit.FromRedis
	steps := []struct {
		at      time.Duration
		cost    int
		allowed bool
		source  ratelimit.Source
		retry   time.Duration
	}{
		{0, 2, true, redis, 0},
		{0, 2, false, redis, 60 * s},
		{10 * s, 2, false, local, 50 * s},
		{10 * s, 3, false, local, 50 * s}, // a dearer request is denied as well
		{10 * s, 1, true, redis, 0},       // a cheaper one still asks Redis
		{20 * s, 1, false, redis, 40 * s},
		{30 * s, 1, false, local, 30 * s},
		{60 * s, 1, true, redis, 0}, // the denial ran out
	}
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		l := newLimiter(t, srv, ratelimit.Options{Algorithm: ratelimit.SlidingWindowLog, Limit: 3, Period: time.Minute, LocalDenyCache: true})
		clock := testclock.New(epoch)
		ratelimit.SetClock(l, clock.Now)
		for i, st := range steps {
			clock.Set(epoch.Add(st.at))
			res, err := l.AllowN(context.Background(), "k", st.cost)
			if err != nil || res.Allowed != st.allowed || res.Source != st.source || res.RetryAfter != st.retry {
				t.Fatalf("step %d (at %s, cost %d) = %+v, %v; want allowed %v from %s, retry %s",
					i, st.at, st.cost, res, err, st.allowed, st.source, st.retry)
			}
		}
	})
}

func TestLocalDenyCacheIsBounded(t *testing.T) {
	const size = 10
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{
		Algorithm: ratelimit.FixedWindow, Limit: 1, Period: time.Hour, LocalDenyCache: true, LocalDenyCacheSize: size,
	})
	ctx := context.Background()
	for i := range 100 {
		key := strconv.Itoa(i)
		for range 2 {
			if _, err := l.Allow(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if n := ratelimit.LocalDenyCacheLen(l); n > size {
			t.Fatalf("after %d denied keys the cache holds %d, bound %d", i+1, n, size)
		}
	}
	if n := ratelimit.LocalDenyCacheLen(l); n == 0 {
		t.Fatal("the cache holds nothing")
	}
}
