package session_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// Environment of a child process (TestHelperProcess).
const (
	envChildPrefix = "TYPECACHE_SESSION_CHILD_PREFIX" // the stores' instance name
	envChildTokens = "TYPECACHE_SESSION_CHILD_TOKENS" // op=token,op=token,...
	envChildSaves  = "TYPECACHE_SESSION_CHILD_SAVES"  // "1": hold each session by saving it
)

// revocations are the writes TestRevocationAcrossProcesses makes in the
// parent, each on a session of its own key, and what children must see
// afterwards.
var revocations = []string{"destroy", "destroyall", "regenerate", "save"}

// TestRevocationAcrossProcesses: child processes hold sessions in their
// local tiers, some because they read them (reads without a round trip),
// one because it saved them (a save keeps what it stored); the parent
// destroys, destroys all of a user's, regenerates and saves them. Every
// child hears of each change (the invalidation delay is the time from the
// parent's write returning to the child's hearing of it, logged) and then
// no longer serves what the write replaced.
func TestRevocationAcrossProcesses(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		parent := newStore(t, srv, session.Options[cart]{Prefix: name})
		// Two sets of sessions: the reading children's, the saving child's.
		const childCount, saver = 3, 1
		sessions := [2]map[string]*session.Session[cart]{{}, {}}
		var pairs [2][]string
		for set := range sessions {
			for _, op := range revocations {
				user := ""
				if op == "destroyall" {
					user = "carol" + strconv.Itoa(set)
				}
				sess, err := parent.Create(background, user, cart{Items: []string{"old"}})
				if err != nil {
					t.Fatal(err)
				}
				sessions[set][op] = sess
				pairs[set] = append(pairs[set], op+"="+sess.Token)
			}
		}
		setOf := func(child int) int {
			if child == saver {
				return 1
			}
			return 0
		}
		children := redistest.StartChildren(t, childCount, func(i int) []string {
			env := []string{srv.Env(), envChildPrefix + "=" + name, envChildTokens + "=" + strings.Join(pairs[setOf(i)], ",")}
			if i == saver {
				env = append(env, envChildSaves+"=1")
			}
			return env
		})

		// Every child now serves each session from memory; revoke them.
		done := [2]map[string]time.Time{{}, {}}
		for set := range sessions {
			for _, op := range revocations {
				sess := sessions[set][op]
				if set == 1 && (op == "regenerate" || op == "save") {
					// The saving child changed it: start from its copy (this
					// process may not have heard of its save yet).
					redistest.Eventually(t, 10*time.Second, func() error {
						fresh, err := parent.Get(background, sess.Token)
						if err == nil && session.Version(fresh) == session.Version(sess) {
							err = errors.New("the child's save is not seen yet")
						}
						if err == nil {
							sess = fresh
						}
						return err
					})
				}
				var err error
				switch op {
				case "destroy":
					err = parent.Destroy(background, sess.Token)
				case "destroyall":
					err = parent.DestroyAll(background, sess.UserID)
				case "regenerate":
					_, err = parent.Regenerate(background, sess)
				case "save":
					sess.Data.Items = []string{"saved"}
					err = parent.Save(background, sess)
				}
				if err != nil {
					t.Fatal(err)
				}
				done[set][op] = time.Now()
			}
		}
		redistest.Release(t, children)

		var delays []time.Duration
		for i, c := range children {
			for c.Output.Scan() {
				line := c.Output.Text()
				if line == "done" {
					break
				}
				var op string
				var nanos int64
				if _, err := fmt.Sscanf(line, "heard %s %d", &op, &nanos); err != nil {
					t.Errorf("child %d: %s", i, line)
					continue
				}
				delays = append(delays, max(0, time.Unix(0, nanos).Sub(done[setOf(i)][op])))
			}
			if err := c.Wait(); err != nil {
				t.Fatalf("child %d: %v", i, err)
			}
		}
		if len(delays) != childCount*len(revocations) {
			t.Fatalf("heard %d invalidations, want %d", len(delays), childCount*len(revocations))
		}
		slices.Sort(delays)
		t.Logf("invalidation delay after the write returned, %d samples: p50 %v, max %v", len(delays), delays[len(delays)/2], delays[len(delays)-1])
	})
}

// arrivals is a typecache.Subscriber that notes when each key was first
// invalidated (since the last forget), and how many times.
type arrivals struct {
	mu     sync.Mutex
	times  map[string]time.Time
	counts map[string]int
}

func (a *arrivals) Invalidate(key string) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.times[key]; !ok {
		a.times[key] = now
	}
	a.counts[key]++
}

func (a *arrivals) count(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[key]
}

// forget drops the times noted so far.
func (a *arrivals) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.times)
}

func (a *arrivals) InvalidateAll() {}

func (a *arrivals) at(key string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.times[key]
	return t, ok
}

// TestHelperProcess is the body of a child process of
// TestRevocationAcrossProcesses; run directly, it does nothing.
func TestHelperProcess(t *testing.T) {
	name := os.Getenv(envChildPrefix)
	if name == "" {
		return
	}
	// The parent reads stdout only up to its "ready" line: say what went
	// wrong on stderr, which it passes through.
	fatalf := func(format string, args ...any) {
		t.Helper()
		fmt.Fprintf(os.Stderr, "session child: "+format+"\n", args...)
		t.FailNow()
	}
	client := redistest.ServerFromEnv().Client(t)
	loads := &eventLog{}
	store := newStoreOn(t, client, session.Options[cart]{Prefix: name, Observer: loads})
	heard := &arrivals{times: map[string]time.Time{}, counts: map[string]int{}}
	flushes := watchFlushes(t, client)
	defer client.Subscribe(keyPrefix(name), heard)()
	tokens := map[string]string{}
	for pair := range strings.SplitSeq(os.Getenv(envChildTokens), ",") {
		op, token, _ := strings.Cut(pair, "=")
		tokens[op] = token
		if os.Getenv(envChildSaves) == "" {
			readFromMemory(t, store, loads, token)
			continue
		}
		// Hold the session because this process saved it: the read after
		// the save is served from memory, also once the save's own
		// invalidation (which the tier absorbs) has arrived, so that it
		// cannot pass for the parent's write. A fresh cluster client may
		// flush its subscribers meanwhile: try again.
		key, _ := session.SessionKey(store, token)
		kept, saves := false, 0
		for attempt := 0; attempt < 10 && !kept; attempt++ {
			flushed := flushes.n.Load()
			sess, err := store.Get(background, token)
			if err != nil {
				fatalf("%s: %v", op, err)
			}
			sess.Data.Items = []string{"child"}
			if err := store.Save(background, sess); err != nil {
				fatalf("%s: save: %v", op, err)
			}
			saves++
			loads.take()
			if _, err := store.Get(background, token); err != nil {
				fatalf("%s: %v", op, err)
			}
			first := loads.take()
			kept = len(first) == 1 && strings.HasSuffix(first[0], "local=true")
			redistest.Eventually(t, 10*time.Second, func() error {
				if heard.count(key) < saves {
					return errors.New(op + ": the saves' own invalidations have not arrived")
				}
				return nil
			})
			if _, err := store.Get(background, token); err != nil {
				fatalf("%s: %v", op, err)
			}
			second := loads.take()
			kept = kept && len(second) == 1 && strings.HasSuffix(second[0], "local=true")
			if !kept && flushes.n.Load() == flushed {
				fatalf("%s: a read after the save, or after its own invalidation, was not served from memory: %v, %v", op, first, second)
			}
		}
		if !kept {
			fatalf("%s: no read after a save was served from memory", op)
		}
	}
	heard.forget()
	if err := redistest.Ready(); err != nil {
		fatalf("%v", err)
	}
	for _, op := range revocations {
		key, _ := session.SessionKey(store, tokens[op])
		redistest.Eventually(t, 10*time.Second, func() error {
			if _, ok := heard.at(key); !ok {
				return errors.New(op + ": no invalidation")
			}
			return nil
		})
		at, _ := heard.at(key)
		got, err := store.Get(background, tokens[op])
		switch {
		case op == "save" && (err != nil || strings.Join(got.Data.Items, ",") != "saved"):
			fatalf("save: %+v, %v; want the saved data", got, err)
		case op != "save" && !errors.Is(err, session.ErrNotFound):
			fatalf("%s: the revoked session is still served: %v", op, err)
		}
		fmt.Println("heard", op, strconv.FormatInt(at.UnixNano(), 10))
	}
	fmt.Println("done")
}
