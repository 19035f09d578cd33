package scale_test

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/rueidis"
)

// invalidationCounter counts the invalidation messages a child's client
// receives, through rueidis's ClientOption.OnInvalidations (which
// typecache.NewClient keeps calling, before its own hub): the pushes, the
// keys they name, per key of the workload.
type invalidationCounter struct {
	// valuePrefix and leasePrefix start the Redis keys of a value and of
	// its load lease: "cache:<name>:{" and "cache:<name>:l{"; probePrefix
	// every key of the probes' cache (see probeCacheName).
	valuePrefix, leasePrefix, probePrefix string
	// probeWake is signalled, without blocking, on an invalidation of a
	// probe key.
	probeWake chan struct{}

	pushes, keys, flushes atomic.Int64
	lease, probe, other   atomic.Int64
	values                keyCounts // per workload key
}

// keyCounts counts something per workload key; safe for concurrent use.
type keyCounts []atomic.Uint32

// snapshot returns the counts so far.
func (k keyCounts) snapshot() []uint32 {
	out := make([]uint32, len(k))
	for i := range k {
		out[i] = k[i].Load()
	}
	return out
}

func newInvalidationCounter(cacheName string, keys int) *invalidationCounter {
	return &invalidationCounter{
		valuePrefix: "cache:" + cacheName + ":{",
		leasePrefix: "cache:" + cacheName + ":l{",
		probePrefix: "cache:" + probeCacheName(cacheName) + ":",
		probeWake:   make(chan struct{}, 1),
		values:      make(keyCounts, keys),
	}
}

// observe is the OnInvalidations callback: it runs on rueidis's reader
// goroutine, so it only counts, and wakes a probe without blocking.
func (c *invalidationCounter) observe(msgs []rueidis.RedisMessage) {
	if msgs == nil { // a lost connection or a flush
		c.flushes.Add(1)
		return
	}
	c.pushes.Add(1)
	c.keys.Add(int64(len(msgs)))
	for _, m := range msgs {
		key, _ := m.ToString()
		switch {
		case strings.HasPrefix(key, c.probePrefix):
			c.probe.Add(1)
			select {
			case c.probeWake <- struct{}{}:
			default:
			}
		case strings.HasPrefix(key, c.leasePrefix):
			c.lease.Add(1)
		case strings.HasPrefix(key, c.valuePrefix):
			c.countValue(strings.TrimSuffix(key[len(c.valuePrefix):], "}"))
		default:
			c.other.Add(1)
		}
	}
}

// countValue counts an invalidation of the value of key, a workload key
// "k<i>".
func (c *invalidationCounter) countValue(key string) {
	i, err := strconv.Atoi(key[min(1, len(key)):])
	if err == nil && strings.HasPrefix(key, "k") && i < len(c.values) {
		c.values[i].Add(1)
		return
	}
	c.other.Add(1)
}

// pushCounts is a snapshot of the window counters.
type pushCounts struct{ pushes, keys, flushes int64 }

func (c *invalidationCounter) snapshot() pushCounts {
	return pushCounts{c.pushes.Load(), c.keys.Load(), c.flushes.Load()}
}
