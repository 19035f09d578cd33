// Package session keeps typed server-side sessions in Redis or Valkey, with
// secure defaults and net/http middleware.
//
// A [Store] holds sessions whose data is any Go type T, encoded through a
// [codec.Codec] (JSON by default; wrap it with codec.Encrypt for encryption
// at rest). [Store.Create] starts a session for a user and returns it with
// its token; [Store.Get] loads it; [Store.Save] stores changed data;
// [Store.Regenerate] moves it to a new token; [Store.Destroy],
// [Store.DestroyAll], [Store.Revoke] and [Store.List] end and enumerate a
// user's sessions. [Store.Middleware] does the same from HTTP cookies, and
// [Store.Current], [Store.Put], [Store.Start], [Store.Renew] and [Store.End]
// give handlers typed access to the request's session.
//
//	store, err := session.New(client, session.Options[Profile]{})
//	sess, err := store.Create(ctx, "user-42", Profile{Name: "Ada"})
//	sess, err = store.Get(ctx, sess.Token) // ErrNotFound: unknown, expired or malformed
//	sess.Data.Name = "Ada L."
//	err = store.Save(ctx, sess) // ErrConflict: another request saved first
//
// # Tokens
//
// A token is "<route>.<secret>": the secret is 32 bytes from crypto/rand
// (256 bits) in base64url, the route 16 bytes that say which Redis key holds
// the session: an HMAC of the user ID under the deployment's route key, or
// random bytes for an anonymous session. Without the route key a token
// says nothing about whose it is. Get, Destroy and Middleware reject
// anything else before any Redis call. Redis only ever sees base64url(SHA-256(secret)), the
// session's id, so a dump of Redis (or a replica, a backup, a MONITOR log)
// yields no usable token. Unknown, expired and malformed tokens give the
// same [ErrNotFound].
//
// # Reads from memory
//
// A Store keeps the sessions its process read or wrote (up to
// Options.MaxLocalSessions), through Redis's client-side caching: a
// request whose session has not changed since this process last read or
// wrote it costs no round trip, so a request that changes its session
// costs one (the Save), also when every request changes it. Redis tells
// the process when a session's key changes, and every write of the
// process itself (Create, Save, Regenerate, Destroy, DestroyAll, Revoke, an
// extension of the idle deadline) drops what it replaced before it
// returns, also when a read that started earlier answers later; Save,
// Regenerate and an extension then keep what they stored (a Create keeps
// nothing: the process that reads the session next keeps it). So a
// revocation is immediate in the process that made it, and reaches every
// other process within the invalidation delay (a fraction of a millisecond
// on one host). Writes keep nothing on a client whose tracking options
// include NOLOOP or BCAST, with which Redis does not tell a client of its
// own writes.
//
// # Timeouts
//
// Every session has an idle deadline that slides with use (IdleTimeout,
// default 30 minutes) and an absolute deadline fixed at creation
// (AbsoluteTimeout, default 8 hours), both stored in the session's record,
// checked by the Redis script that reads it with the server's clock, and
// checked again against the copy a process keeps. A read extends the idle
// deadline only when the previous extension is older than TouchThreshold
// (default a tenth of IdleTimeout), and then writes only the record's
// small meta field and the key's TTL, never the data. That extension is the
// only write a read may cause; it also makes every process read the session
// from Redis once more, so "no round trip" holds between extensions.
//
// # Concurrent requests
//
// Each record carries a version. Save and Regenerate succeed only if the
// record is still at the version the Session was loaded at, checked in the
// script; otherwise they return [ErrConflict] and write nothing. Two
// requests that change the same session never silently overwrite each
// other.
//
// # Redis layout and Redis Cluster
//
// All sessions of one user live in one hash, session:<prefix>:s{<route>}
// with the route an HMAC of the user ID: two fields per session (its meta
// and its data, named by its id). An anonymous session has a hash of its
// own, under a random route that Regenerate keeps. Every operation is
// therefore one script on one key of one cluster slot: DestroyAll is
// atomic with every Regenerate, Save and Create of the user, so no session
// renewed before it returns survives it, and Get still finds its session in
// one round trip from the token alone. Regenerate leaves a forward under
// the old id for a few minutes, so that destroying the old token (a logout
// sent with the cookie a renewal was replacing) ends the new session too.
// Ended sessions are pruned from the hash whenever a session is added to
// it, and the key's TTL is its latest deadline, so it expires with its last
// session.
//
// # Route keys
//
// The route key is Options.RouteKeys[0], or else one random key the
// deployment creates in Redis once, at session:<prefix>:k{}, which every
// Store of the prefix reads at its first call that needs it. A user's
// session is valid only on its user's route under a key the Store holds,
// so removing a key from RouteKeys, or losing the one in Redis (FLUSHALL,
// eviction, a failover that lost it), ends the sessions made under it
// everywhere: a lost key is recreated at the next call and every user signs
// in again. DestroyAll, List and Revoke look under every listed key.
//
// # When Redis is down
//
// Middleware looks the session up only when the handler asks for it, so
// pages that never do are served as usual. When the lookup fails,
// Options.FailureMode decides: ServeAnonymous (the default) serves the
// request without its session and refuses changes with ErrUnavailable;
// FailRequest has Options.ErrorHandler answer. Calls that find the node
// refusing connections, or its breaker open, return errors wrapping
// ErrUnavailable at once, from the first; a call that timed out after
// sending may have been applied and returns another error.
//
// # Closing
//
// Close ends a Store: every later call returns an error wrapping ErrClosed,
// and Middleware hands ErrClosed to Options.ErrorHandler. So does the Close
// of the typecache.Client the Store was built on. ErrClosed matches
// typecache.ErrClosed, as every package's does.
//
// # Integrity
//
// Options.IntegrityKeys authenticates every record with HMAC-SHA-256 over
// the fields the store writes; without it, whoever can write to Redis can
// mint sessions. See the security guide for the trust model.
package session
