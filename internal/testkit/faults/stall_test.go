package faults_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// Scenario 2: the server stalls for 2 s (CLIENT PAUSE, DEBUG SLEEP). Every
// call returns by its deadline; Fetch answers from the loader; the rate
// limiters never admit on FailClosed without Redis; a lock whose lease runs
// out during the stall is reported lost before anyone else can take it.
func TestServerStalled(t *testing.T) {
	stalls := []struct {
		name  string
		stall func(n *redistest.Node) error
	}{
		{"CLIENT PAUSE 2000", func(n *redistest.Node) error { _, err := n.Do("CLIENT", "PAUSE", "2000"); return err }},
		{"DEBUG SLEEP 2", func(n *redistest.Node) error { _, err := n.Do("DEBUG", "SLEEP", "2"); return err }},
	}
	for _, st := range stalls {
		t.Run(st.name, func(t *testing.T) {
			srv := redistest.NewStandalone(t)
			s := newStack(t, srv)
			ctx := context.Background()
			for _, k := range []string{"get", "fetch"} {
				if err := s.cache.Set(ctx, k, "stored"); err != nil {
					t.Fatal(err)
				}
			}
			sess, err := s.sessions.Create(ctx, "u1", profile{Name: "ada"})
			if err != nil {
				t.Fatal(err)
			}
			held, err := s.locks.TryAcquire(ctx, "held")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Release(ctx)
			loss := watchLoss(held)

			stalled := make(chan error, 1)
			stallAt := time.Now()
			go func() { stalled <- st.stall(srv.Nodes()[0]) }()
			eventually(t, "stall in effect", time.Second, func() error { return stallInEffect(srv) })

			// Every call starts inside the stall, at once, so all of them
			// meet it.
			const short = 300 * time.Millisecond
			var (
				wg                   sync.WaitGroup
				fetched              string
				fetchErr, sessionErr error
				limits               [2]ratelimit.Result
				limitErrs            [2]error
				limiters             = [2]*ratelimit.Limiter{s.openLimit, s.closeLimit}
				limiterNames         = [2]string{"FailOpen", "FailClosed"}
			)
			wg.Go(func() {
				took, err := timed(t, "cache.Get", short, func(ctx context.Context) error { _, err := s.cache.Get(ctx, "get"); return err })
				figure(t, "cache.Get under a 300 ms deadline", "%s, err %v", ms(took), err)
			})
			wg.Go(func() {
				took, _ := timed(t, "cache.Fetch", time.Second, func(ctx context.Context) error {
					fetched, fetchErr = s.cache.Fetch(ctx, "fetch", cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "loaded", nil }))
					return fetchErr
				})
				figure(t, "cache.Fetch under a 1 s deadline", "%s, value %q, err %v", ms(took), fetched, fetchErr)
			})
			for i := range limiters {
				wg.Go(func() {
					took, _ := timed(t, "ratelimit "+limiterNames[i], short, func(ctx context.Context) error {
						limits[i], limitErrs[i] = limiters[i].Allow(ctx, "ip")
						return limitErrs[i]
					})
					figure(t, "ratelimit "+limiterNames[i]+" under a 300 ms deadline", "%s, allowed %v, source %v, err %v", ms(took), limits[i].Allowed, limits[i].Source, limitErrs[i])
				})
			}
			wg.Go(func() {
				took, err := timed(t, "lock.TryAcquire", short, func(ctx context.Context) error { _, err := s.locks.TryAcquire(ctx, "other"); return err })
				figure(t, "lock.TryAcquire under a 300 ms deadline", "%s, err %v", ms(took), err)
			})
			wg.Go(func() {
				took, _ := timed(t, "session.Get", short, func(ctx context.Context) error { _, sessionErr = s.sessions.Get(ctx, sess.Token); return sessionErr })
				figure(t, "session.Get under a 300 ms deadline", "%s, err %v", ms(took), sessionErr)
			})
			wg.Wait()
			if errors.Is(sessionErr, session.ErrNotFound) {
				t.Errorf("session.Get during a stall = %v: a slow server must not log the user out", sessionErr)
			}
			for i, res := range limits {
				if limitErrs[i] == nil && limiters[i] == s.closeLimit && res.Allowed && res.Source != ratelimit.FromRedis {
					t.Errorf("FailClosed admitted a request without Redis: %+v", res)
				}
				if limitErrs[i] != nil && !errors.Is(limitErrs[i], context.DeadlineExceeded) {
					t.Errorf("ratelimit %s: error %v, want a decision or the context's error", limiterNames[i], limitErrs[i])
				}
			}
			t.Run("Fetch fails open to the loader", func(t *testing.T) {
				if fetchErr != nil || (fetched != "loaded" && fetched != "stored") {
					t.Errorf("Fetch during the stall = %q, %v; want the loader's value within the deadline", fetched, fetchErr)
				}
			})

			// The lease (1 s) ends inside the 2 s stall: the holder must know
			// before the server could hand the lock to someone else.
			lostAt := loss.requireLost(t, stallAt, lockValidity+hangSlack)
			figure(t, "lock loss reported after the stall began", "%s (lease %s)", ms(lostAt.Sub(stallAt)), lockValidity)

			if err := <-stalled; err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			var next int64
			recovered := eventually(t, "recovery after the stall", 5*time.Second, func() error {
				l, err := s.locks.TryAcquire(ctx, "held")
				if err != nil {
					return err
				}
				next = l.Token()
				return l.Release(ctx)
			})
			if acquiredAt := time.Now(); !lostAt.Before(acquiredAt) {
				t.Errorf("lock re-acquired at %v before its holder was told it was lost at %v", acquiredAt, lostAt)
			}
			if next <= held.Token() {
				t.Errorf("fencing token after the stall %d, want > %d", next, held.Token())
			}
			recovered += eventually(t, "cache after the stall", 5*time.Second, func() error { _, err := s.cache.Get(ctx, "get"); return err })
			figure(t, "recovery after the stall ended", "%s", ms(recovered))
		})
	}
}

// stallInEffect reports nil once the server answers no command: a PING
// over a fresh connection does not come back within 100 ms.
func stallInEffect(srv *redistest.Server) error {
	done := make(chan struct{})
	go func() {
		_, _ = srv.Nodes()[0].Do("PING")
		close(done)
	}()
	select {
	case <-done:
		return errors.New("the server still answers")
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}
