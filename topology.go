package typecache

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// topologyWatch asks the cluster, every interval, which master serves each
// slot (CLUSTER SLOTS), and flushes the hub's subscribers as soon as any
// slot's master differs from the last answer: values read from a node that
// has since lost the slot are no longer covered by tracking, since the node
// that now owns the slot never tracked them and the old one may never send
// their invalidations. rueidis's own view cannot tell: its node set includes
// the replicas, so a failover that swaps the roles of two known nodes leaves
// it unchanged, and rueidis reports the old connection as lost only when it
// closes it, seconds after the switch.
type topologyWatch struct {
	cancel  context.CancelFunc
	stopped chan struct{}
}

func watchTopology(redis rueidis.Client, hub *invalidationHub, interval time.Duration) *topologyWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &topologyWatch{cancel: cancel, stopped: make(chan struct{})}
	go w.run(ctx, redis, hub, interval)
	return w
}

func (w *topologyWatch) run(ctx context.Context, redis rueidis.Client, hub *invalidationHub, interval time.Duration) {
	defer close(w.stopped)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	// Built once and pinned (a read rueidis may retry): never recycled.
	slots := rediscmd.Retried(redis.B().ClusterSlots().Build())
	known := ""
	for {
		// A poll that fails (a node down during the failover) proves
		// nothing: the next one compares with the last answer.
		pollCtx, cancel := context.WithTimeout(ctx, interval)
		reply, err := redis.Do(pollCtx, slots).ToArray()
		cancel()
		if now, ok := slotMasters(reply); err == nil && ok && now != known {
			if known != "" {
				hub.flushSubscribers()
			}
			known = now
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// slotMasters returns a fingerprint of which master serves which slots,
// from a CLUSTER SLOTS reply: one "first-last host:port id" line per range,
// ordered by first slot. The master's node ID and address are both in it, so
// a role swap, a slot moved between masters and a node replaced on the same
// address all change it. ok is false for a reply it cannot read.
func slotMasters(ranges []rueidis.RedisMessage) (fingerprint string, ok bool) {
	lines := make([]string, 0, len(ranges))
	for _, r := range ranges {
		// first slot, last slot, master [host, port, node ID, ...], replicas...
		fields, err := r.ToArray()
		if err != nil || len(fields) < 3 {
			return "", false
		}
		first, err1 := fields[0].AsInt64()
		last, err2 := fields[1].AsInt64()
		master, err3 := fields[2].ToArray()
		if err1 != nil || err2 != nil || err3 != nil || len(master) < 2 {
			return "", false
		}
		host, err1 := master[0].ToString()
		port, err2 := master[1].AsInt64()
		if err1 != nil || err2 != nil {
			return "", false
		}
		id := ""
		if len(master) > 2 {
			id, _ = master[2].ToString()
		}
		lines = append(lines, fmt.Sprintf("%05d-%05d %s:%d %s\n", first, last, host, port, id))
	}
	slices.Sort(lines) // fixed-width first slots: sorted by range
	return strings.Join(lines, ""), len(lines) > 0
}

func (w *topologyWatch) stop() {
	w.cancel()
	<-w.stopped
}
