package session

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
)

// eval runs script on key (every script works on one key) with args: one
// round trip, two the first time a server meets the script. tracked sends
// it through transport.Conn.DoTracked, so that Redis tracks key for this
// client (see localTier); a Store without a local tier sends everything
// plain, through the client's direct connections (transport.Conn.Direct),
// which answer a lone caller sooner than the pipelined, tracking ones.
// Every command the Store sends about a session goes through here.
//
// The call goes past the client's breaker of key's node: while it is open,
// eval fails at once with errCircuitOpen, and every outcome feeds it. A
// failure that says the node refuses connections (typecache.Unreachable)
// matches ErrUnavailable too, from the first one (transport.Guard): the
// command was not sent.
// After the Store's Close or its client's, eval fails at once with
// errStoreClosed (clientconn.Guard).
func (s *Store[T]) eval(ctx context.Context, script *rediscmd.Script, key string, tracked bool, args []string) (rueidis.RedisMessage, error) {
	send := s.plain
	if tracked {
		send = s.tracked // s.plain too without a local tier
	}
	return s.evalWith(ctx, send, script, key, args)
}

// evalWith is eval through send.
func (s *Store[T]) evalWith(ctx context.Context, send rediscmd.Sender, script *rediscmd.Script, key string, args []string) (rueidis.RedisMessage, error) {
	if err := s.refused(); err != nil {
		return rueidis.RedisMessage{}, err
	}
	return clientconn.Guard(ctx, s.conn, key, errCircuitOpen, ErrClosed, func() (rueidis.RedisMessage, error) {
		return script.Exec(ctx, s.redis, send, []string{key}, args)
	})
}

// errStoreClosed is ErrClosed as the cause of an error that already says
// "session: <op> <key>".
var errStoreClosed = clientconn.ClosedCause(ErrClosed)

// refused returns errStoreClosed once the Store or its client is closed.
func (s *Store[T]) refused() error {
	if s.closed.Load() || s.conn.Closed() {
		return errStoreClosed
	}
	return nil
}

// write runs script, a write of key that keeps what it stored as session
// id in the local tier (see localTier): sent through DoTracked when the
// Store may keep writes (keepWrites), and plain otherwise. parse turns the
// script's reply (an array of strings; false and conflictCode are
// ErrNotFound and ErrConflict) into the stored record and Redis's clock
// (Unix ms) when it ran, or an error that names op and key. Every outcome
// drops what the tier held of key.
func (s *Store[T]) write(ctx context.Context, script *rediscmd.Script, op, key, id string, args []string, parse func(fields []string) (record, int64, error)) (record, error) {
	sent := s.clock()
	tk := s.local.begin(key)
	msg, err := s.eval(ctx, script, key, s.keepWrites, args)
	fields, err := s.reply(msg, err, op, key, -1)
	var rec record
	var now int64
	if err == nil {
		rec, now, err = parse(fields)
	}
	s.replied(ctx)
	var kept *localRecord
	if err == nil && s.keepWrites {
		kept = s.fresh(id, rec, sent, now)
	}
	s.local.endWrite(key, tk, kept)
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
