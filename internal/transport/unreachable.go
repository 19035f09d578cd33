package transport

import (
	"errors"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

// Unreachable reports whether err says that no connection to Redis could be
// made at all (a refused or failed dial, an unknown host): the node is down,
// not slow. The root package exports it for applications as
// typecache.Unreachable.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// maxRetryDelay bounds the backoff between rueidis's retries of a read.
const maxRetryDelay = time.Second

// failFastRetries is the ClientOption.RetryDelay Dial installs: rueidis
// retries a read on a broken connection until the caller's context ends, and
// would do so against a server that refuses connections, costing every call
// its whole deadline. A read that failed because Redis is Unreachable is not
// retried; others wait as next says (exponential backoff with jitter when
// next is nil, as rueidis's default).
func failFastRetries(next rueidis.RetryDelayFn) rueidis.RetryDelayFn {
	return func(attempts int, cmd rueidis.Completed, err error) time.Duration {
		if Unreachable(err) {
			return -1
		}
		if next != nil {
			return next(attempts, cmd, err)
		}
		base := time.Duration(1<<min(attempts, 20)) * time.Microsecond
		return min(maxRetryDelay, base+rand.N(base))
	}
}
