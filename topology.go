package typecache

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// topologyWatch compares, every interval, the set of nodes a cluster client
// routes to, and flushes the hub's subscribers when it changes: values read
// from a master that has since lost its slots are no longer covered by
// tracking. rueidis itself reports the old connection as lost only when it
// closes it, seconds after the switch.
type topologyWatch struct {
	done    chan struct{}
	stopped chan struct{}
}

func watchTopology(redis rueidis.Client, hub *invalidationHub, interval time.Duration) *topologyWatch {
	w := &topologyWatch{done: make(chan struct{}), stopped: make(chan struct{})}
	go w.run(redis, hub, interval)
	return w
}

func (w *topologyWatch) run(redis rueidis.Client, hub *invalidationHub, interval time.Duration) {
	defer close(w.stopped)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	known := nodeSet(redis)
	for {
		select {
		case <-w.done:
			return
		case <-ticker.C:
		}
		if now := nodeSet(redis); now != known {
			known = now
			hub.flushSubscribers()
		}
	}
}

// nodeSet returns the sorted addresses of the nodes redis routes to.
func nodeSet(redis rueidis.Client) string {
	return strings.Join(slices.Sorted(maps.Keys(redis.Nodes())), ",")
}

func (w *topologyWatch) stop() {
	close(w.done)
	<-w.stopped
}
