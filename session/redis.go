package session

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// eval runs script on key (every script works on one key) with args: one
// round trip, two the first time a server meets the script. tracked sends
// it through typecache.Client.DoTracked, so that Redis tracks key for this
// client (see localTier); a Store without a local tier sends everything
// plain, through the client's direct connections (typecache.Client.Direct),
// which answer a lone caller sooner than the pipelined, tracking ones.
// Every command the Store sends about a session goes through here;
// the only other is keepsWrites' one question, once per Store.
//
// The call goes past the client's breaker of key's node: while it is open,
// eval fails at once with errCircuitOpen, and every outcome feeds it.
func (s *Store[T]) eval(ctx context.Context, script *rediscmd.Script, key string, tracked bool, args []string) (rueidis.RedisMessage, error) {
	if !s.breaker.Allow(key) {
		return rueidis.RedisMessage{}, errCircuitOpen
	}
	send := s.plain
	if tracked && s.local != nil {
		send = s.tracked
	}
	msg, err := script.Exec(ctx, s.redis, send, []string{key}, args)
	s.breaker.Record(ctx, key, err)
	return msg, err
}

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "session: <op> <key>".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// write runs script, a write of key. keep says that the write may keep
// what it stored as session id in the local tier (see localTier): it is
// then sent through DoTracked when Redis notifies this client of its own
// writes, and plain otherwise. parse turns the script's reply (an array of
// strings; false and conflictCode are ErrNotFound and ErrConflict) into the
// stored record and Redis's clock (Unix ms) when it ran, or an error that
// names op and key. Every outcome drops what the tier held of key.
func (s *Store[T]) write(ctx context.Context, script *rediscmd.Script, op, key, id string, keep bool, args []string, parse func(fields []string) (record, int64, error)) (record, error) {
	keep = keep && s.keepsWrites(ctx)
	sent := s.clock()
	w := s.local.begin(key)
	msg, err := s.eval(ctx, script, key, keep, args)
	fields, err := s.reply(msg, err, op, key, -1)
	var rec record
	var now int64
	if err == nil {
		rec, now, err = parse(fields)
	}
	s.replied(ctx)
	var kept *localRecord
	if err == nil && keep {
		kept = s.fresh(id, rec, sent, now)
	}
	s.local.endWrite(key, w, kept)
	return rec, err
}

// storedRecord parses and verifies the reply {meta, now} of op, a script
// that stored data as session id of key.
func (s *Store[T]) storedRecord(op, key, id string, fields []string, data []byte) (record, int64, error) {
	if len(fields) != 2 {
		return record{}, 0, fmt.Errorf("session: %s %s: unexpected reply %q", op, key, fields)
	}
	rec, err := s.checkedRecord(key, id, fields[0], data)
	if err != nil {
		return record{}, 0, err
	}
	now, err := replyInt(op, key, fields[1])
	return rec, now, err
}

// What a Store knows of Redis's invalidations of the client's own writes.
const (
	ownWritesUnknown     int32 = iota // not asked yet, or the question failed
	ownWritesNotified                 // tracking on, without NOLOOP or BCAST
	ownWritesNotNotified              // NOLOOP or BCAST: writes keep nothing
)

// keepsWrites reports whether a write should keep what it stores in the
// local tier: only when Redis notifies this client of its own writes to
// the keys it tracks, which the tier counts on (see localTier). rueidis's
// default tracking mode (OPTIN) does; a client built with NOLOOP or BCAST
// in ClientOption.ClientTrackingOptions does not. The first write (or
// extending read) of a Store asks Redis once (CLIENT TRACKINGINFO, one
// round trip); until an answer arrives, writes keep nothing, and a refusal
// means they never do.
func (s *Store[T]) keepsWrites(ctx context.Context) bool {
	if s.local == nil {
		return false
	}
	if known := s.ownWrites.Load(); known != ownWritesUnknown {
		return known == ownWritesNotified
	}
	info, err := s.redis.Do(ctx, s.redis.B().ClientTrackinginfo().Build()).AsMap()
	if _, refused := rueidis.IsRedisErr(err); err != nil && !refused {
		return false // ask again at the next write
	}
	field := info["flags"]
	flags, _ := field.AsStrSlice()
	// A refusal (an ACL without CLIENT) counts as no: asking again would
	// cost every write a round trip.
	answer := ownWritesNotNotified
	if slices.Contains(flags, "on") && !slices.Contains(flags, "noloop") && !slices.Contains(flags, "bcast") {
		answer = ownWritesNotified
	}
	s.ownWrites.Store(answer)
	return answer == ownWritesNotified
}
