package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/tier"
)

// A user's route (see token.go) is keyed: the first 128 bits of an
// HMAC-SHA-256 of the user ID under a route key, so that a token says
// nothing about whose it is to anyone without the key. The keys come from
// Options.RouteKeys, or else from one random key that the first Store of
// the deployment creates in Redis, at session:<prefix>:k{}, and every
// Store of the same Prefix reads from there.
//
// Sessions live on the route they were created on (Regenerate keeps it).
// A user's session is valid only on the route of its user under a key the
// Store holds (Get checks it against the record's user): so removing a key
// ends the sessions made under it, and a key lost from Redis (a FLUSHALL,
// an eviction under an allkeys-* policy, a failover that lost its write)
// ends them too, everywhere, instead of leaving sessions that "log out
// everywhere" could no longer find. DestroyAll, List and Revoke look under
// the route of every key held.

// routeKeyKind names the Redis key that holds the store's route key when
// Options.RouteKeys is empty.
const routeKeyKind = "k"

// routeKeyBytes is the length of the route key a Store creates in Redis.
const routeKeyBytes = 32

// errForeignRoute reports a user's session on a route that is not its
// user's under any key the Store holds: made under a key since removed
// or lost (or moved there by someone who can write to Redis).
var errForeignRoute = errors.New("session made under a route key that is no longer held")

// routeKeys are the keys of users' routes: the first routes new sessions.
type routeKeys [][]byte

// route returns userID's route under the i-th key.
func (k routeKeys) route(i int, userID string) string {
	h := hmac.New(sha256.New, k[i])
	h.Write([]byte("typecache/session/route\x00"))
	h.Write([]byte(userID))
	var sum [sha256.Size]byte
	return tokenEncoding.EncodeToString(h.Sum(sum[:0])[:routeBytes])
}

// routes returns userID's route under every key, the current one last: a
// change of every route but the last is atomic with the sessions renewed
// there, and a Create only ever adds to the last.
func (k routeKeys) routes(userID string) []string {
	routes := make([]string, len(k))
	for i := range k {
		routes[len(k)-1-i] = k.route(i, userID)
	}
	return routes
}

// holds reports whether route is userID's under one of the keys.
func (k routeKeys) holds(route, userID string) bool {
	for i := range k {
		if hmac.Equal([]byte(k.route(i, userID)), []byte(route)) {
			return true
		}
	}
	return false
}

// routeKeyCache is a Store's copy of the route key kept in Redis: a
// one-entry internal/tier, so that an invalidation that overtakes a read
// of the key is never undone by that read. It is read at the first call
// that needs it, and read again when Redis tells the client that the key
// changed (it is read tracked when the client tracks, local tier or not) or
// when Get meets a session that no key held routes. It is a Subscriber of
// the key's invalidations.
type routeKeyCache struct {
	kept    *tier.Tier[routeKeys]
	last    atomic.Pointer[routeKeys] // the last key read, the best guess while Redis is out of reach
	reading chan struct{}             // holds a token while a read runs: one at a time, each waiter on its own context
	send    rediscmd.Sender           // DoTracked when the client tracks
	local   *localTier                // the Store's, or nil
}

func newRouteKeyCache(send rediscmd.Sender, local *localTier) *routeKeyCache {
	return &routeKeyCache{kept: tier.New[routeKeys](tier.Options{MaxEntries: 1}), reading: make(chan struct{}, 1), send: send, local: local}
}

// current returns the key kept, or nil when it must be read.
func (c *routeKeyCache) current(name string) *routeKeys {
	if e := c.kept.Get(name); e != nil {
		return &e.Value
	}
	return nil
}

// Invalidate notes that the key changed in Redis, and drops the sessions
// the Store kept in memory: they were checked against the old key, and
// Get serves them without another check.
func (c *routeKeyCache) Invalidate(name string) {
	c.kept.Invalidate(name)
	if c.local != nil {
		c.local.InvalidateAll()
	}
}

// InvalidateAll notes that a change may have been missed.
func (c *routeKeyCache) InvalidateAll() { c.kept.InvalidateAll() }

// routeKeyScript returns the route key in KEYS[1], after setting it to
// ARGV[1] when there is none. The key has no TTL, so no volatile-* policy
// evicts it. Sent tracked, it makes Redis tell the client when the key
// changes. It creates the key before it reads it: created after the read,
// the key would change under the client's own tracking, and Redis would
// tell the client, whose Store would then drop its copy and the sessions
// it keeps in memory, and read the key again.
var routeKeyScript = rediscmd.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`)

// routeKeyName is the Redis key that holds the route key.
func (s *Store[T]) routeKeyName() string { return s.space.Key(routeKeyKind, "") }

// routing returns the keys of users' routes: Options.RouteKeys, or the
// key kept in Redis, read when not known yet or stale. When a stale key
// cannot be read again (its node is out of reach), the key read before is
// still the best guess: sessions on other nodes need not wait for that one.
func (s *Store[T]) routing(ctx context.Context) (routeKeys, error) {
	if s.shared == nil {
		return s.o.RouteKeys, nil
	}
	if kept := s.shared.current(s.routeKeyName()); kept != nil {
		return *kept, nil
	}
	keys, err := s.readRouteKey(ctx, nil)
	if known := s.shared.last.Load(); err != nil && known != nil {
		return *known, nil
	}
	return keys, err
}

// readRouteKey reads the route key from Redis (creating it when missing),
// unless another caller read it since this one found old (nil: none) in
// use.
func (s *Store[T]) readRouteKey(ctx context.Context, old *routeKeys) (routeKeys, error) {
	c := s.shared
	select {
	case c.reading <- struct{}{}:
		defer func() { <-c.reading }()
	case <-ctx.Done():
		return nil, fmt.Errorf("session: read route key %s: %w", s.routeKeyName(), ctx.Err())
	}
	key := s.routeKeyName()
	if k := c.current(key); k != nil && (old == nil || !hmac.Equal((*k)[0], (*old)[0])) {
		return *k, nil
	}
	ticket := c.kept.Begin(key) // an invalidation from now on calls for another read
	var fresh [routeKeyBytes]byte
	rand.Read(fresh[:])
	msg, err := s.evalWith(ctx, c.send, routeKeyScript, key, []string{tokenEncoding.EncodeToString(fresh[:])})
	if err != nil {
		return nil, fmt.Errorf("session: read route key %s: %w", key, err)
	}
	text, err := msg.ToString()
	var keys routeKeys
	if err == nil {
		keys, err = parseRouteKey(text)
	}
	if err != nil {
		return nil, fmt.Errorf("session: route key %s: not a key this package wrote: %v", key, err)
	}
	c.last.Store(&keys)
	e := c.kept.NewEntry(key, tier.Meta{})
	e.Value = keys
	c.kept.Fill(ticket, e)
	return keys, nil
}

// parseRouteKey decodes the route key as Redis holds it: routeKeyBytes in
// base64url. Whatever else the key holds (someone else's value) is an
// error, never a short key.
func parseRouteKey(text string) (routeKeys, error) {
	raw, err := tokenEncoding.DecodeString(text)
	if err != nil {
		return nil, err
	}
	if len(raw) != routeKeyBytes {
		return nil, fmt.Errorf("%d bytes, want %d", len(raw), routeKeyBytes)
	}
	return routeKeys{raw}, nil
}

// checkRoute reports errForeignRoute when route, read by Get, is not
// userID's under a key the Store holds, after reading the key from Redis
// again once (another process may have made a new one). An anonymous
// session's route is random: nothing to check.
func (s *Store[T]) checkRoute(ctx context.Context, route, userID string) error {
	if userID == "" {
		return nil
	}
	keys, err := s.routing(ctx)
	if err != nil {
		return err
	}
	if keys.holds(route, userID) {
		return nil
	}
	if s.shared != nil {
		if keys, err = s.readRouteKey(ctx, &keys); err != nil {
			return err
		}
		if keys.holds(route, userID) {
			return nil
		}
	}
	return errForeignRoute
}
