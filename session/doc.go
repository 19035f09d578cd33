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
// A token is 32 bytes from crypto/rand (256 bits) in base64url without
// padding: 43 characters. Get, Destroy and Middleware reject anything else
// before any Redis call. Redis only ever sees base64url(SHA-256(token)), in
// keys and in values, so a dump of Redis (or a replica, a backup, a
// MONITOR log) yields no usable token. Unknown, expired and malformed tokens
// give the same [ErrNotFound].
//
// # Timeouts
//
// Every session has an idle deadline that slides with use (IdleTimeout,
// default 30 minutes) and an absolute deadline fixed at creation
// (AbsoluteTimeout, default 8 hours), both stored in the session's record
// and checked by the Redis script that reads it, with the server's clock.
// Get is one round trip (one EVALSHA). It extends the idle deadline only
// when the previous extension is older than TouchThreshold (default a tenth
// of IdleTimeout), and then writes only the last-seen timestamp and the
// key's TTL, never the record: most reads write nothing at all.
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
// A session's record is a hash at <prefix>s:{<id>}, hash-tagged by its own
// id (the token's hash), so a Get finds it in one round trip without
// knowing the user. Each user has an index, a sorted set at
// <prefix>u:{<user>} of their sessions' ids scored by absolute deadline, in
// the user's slot. Record and index are in different slots, so no script
// spans both: Create writes the index entry first and the record second
// (two round trips); Destroy deletes the record first and the index entry
// second. Every live record of a user is therefore always in the user's
// index, which is what DestroyAll relies on: it reads the index, deletes
// each record in its own slot (pipelined per node) and removes exactly the
// entries it read. The index is kept tidy without SCAN: entries past their
// absolute deadline are pruned whenever the index is written, List drops
// entries whose records have gone, and the index key expires with its last
// session. The alternative, putting all of a user's keys in the user's
// slot, would make Get take a second round trip to learn the user.
//
// Anonymous sessions (an empty user ID) have no index entry.
package session
