// Package clientconn is how the packages built on a typecache.Client reach
// what the root package does not export: the Client's transport.Conn
// (tracked reads, the direct client, the breakers' Allow and Record), and
// package sentinels that match the root's.
//
// The root imports internal/transport, so transport cannot name the root's
// Client; the root hands transport an accessor in its init, and this
// package, which imports both, types it.
//
// It also holds the one lifecycle rule of those packages: after Close, of
// a package's instance or of the Client it was built on, every call fails
// with the package's ErrClosed ([Closed]), which matches
// typecache.ErrClosed. A closed Client is a programming error, never an
// outage: no package falls back (fail-open, a loader, a local copy) on it.
package clientconn

import (
	"context"
	"errors"
	"fmt"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/transport"
)

// Of returns c's connection. A feature package calls it once, in its
// constructor (through [Live]), and keeps the result beside the Client.
func Of(c *typecache.Client) *transport.Conn { return transport.ConnOf(c) }

// Live returns c's connection, or an error wrapping closed, the package's
// ErrClosed, when c is closed: a constructor calls it, so that building on
// a closed Client fails at once.
func Live(c *typecache.Client, closed error) (*transport.Conn, error) {
	conn := Of(c)
	if conn.Closed() {
		return nil, fmt.Errorf("%w: the typecache.Client is closed", closed)
	}
	return conn, nil
}

// Unavailable returns a package's sentinel for a call refused because Redis
// is unavailable, worded "<pkg>: redis unavailable (circuit open)": it
// matches typecache.ErrUnavailable with errors.Is, so that one check
// serves every package.
func Unavailable(pkg string) error {
	return &sentinel{msg: pkg + ": redis unavailable (circuit open)", root: typecache.ErrUnavailable}
}

// Closed returns a package's sentinel for a call after Close, of the
// package's instance or of the typecache.Client it was built on, worded
// "<pkg>: closed": it matches typecache.ErrClosed with errors.Is.
func Closed(pkg string) error { return &sentinel{msg: pkg + ": closed", root: typecache.ErrClosed} }

// ClosedCause returns closed, a package's ErrClosed, as the cause of an
// error that already names the package and the call ("lock: acquire
// \"job\": closed"): it reads without a second package prefix and matches
// closed and typecache.ErrClosed with errors.Is.
func ClosedCause(closed error) error { return closedCause{closed: closed} }

// Closing returns err, the failure of a call through conn, as matching
// closed (the package's ErrClosed) too when conn is closed: Close raced
// with the call, which failed with rueidis.ErrClosing or a connection
// closed under it. Otherwise err is returned as it is: rueidis also says
// ErrClosing of a connection it could not make.
func Closing(conn *transport.Conn, err, closed error) error {
	if err != nil && conn.Closed() {
		return closedCause{closed: closed, err: err}
	}
	return err
}

// Guard is transport.Guard for a package built on conn: it fails at once
// with [ClosedCause](closed) when conn is closed, without consulting the
// breaker (a closed Client must not read as an unavailable Redis), and a
// call that failed because conn closed meanwhile matches closed too
// ([Closing]). refused is the cause returned while the breaker is open.
func Guard[T any](ctx context.Context, conn *transport.Conn, key string, refused, closed error, call func() (T, error)) (T, error) {
	if conn.Closed() {
		var zero T
		return zero, ClosedCause(closed)
	}
	v, err := transport.Guard(ctx, conn.Breaker(), key, refused, call)
	return v, Closing(conn, err, closed)
}

// sentinel is a package's error that matches a root sentinel.
type sentinel struct {
	msg  string
	root error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.root }

// closedCause is ClosedCause's error; err is the call's when Close raced
// with it.
type closedCause struct{ closed, err error }

func (e closedCause) Error() string {
	if e.err != nil {
		return "closed: " + e.err.Error()
	}
	return "closed"
}

func (e closedCause) Is(target error) bool { return errors.Is(e.closed, target) }
func (e closedCause) Unwrap() error        { return e.err }
