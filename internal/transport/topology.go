package transport

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
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
// closes it, seconds after the switch. It also tells the Conn's breakers
// which node serves which slot.
type topologyWatch struct {
	cancel  context.CancelFunc
	stopped chan struct{}

	redis    rueidis.Client
	hub      *invalidationHub
	breaker  *Breaker
	interval time.Duration
	slots    rueidis.Completed
	known    string // the last fingerprint; used by one poll at a time
}

// watchTopology starts the watch. Its first poll is made before it returns,
// so that the breakers know the nodes from the start; the later ones run
// on the watch's goroutine.
func watchTopology(redis rueidis.Client, hub *invalidationHub, breaker *Breaker, interval time.Duration) *topologyWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &topologyWatch{cancel: cancel, stopped: make(chan struct{}),
		redis: redis, hub: hub, breaker: breaker, interval: interval,
		// Built once and pinned (a read rueidis may retry): never recycled.
		slots: rediscmd.Retried(redis.B().ClusterSlots().Build()),
	}
	w.poll(ctx)
	go w.run(ctx)
	return w
}

func (w *topologyWatch) run(ctx context.Context) {
	defer close(w.stopped)
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		w.poll(ctx)
	}
}

// poll asks for the slots' masters once. A poll that fails (a node down
// during the failover) proves nothing: the next one compares with the last
// answer.
func (w *topologyWatch) poll(ctx context.Context) {
	pollCtx, cancel := context.WithTimeout(ctx, w.interval)
	reply, err := w.redis.Do(pollCtx, w.slots).ToArray()
	cancel()
	if err != nil {
		return
	}
	ranges, now, ok := slotMasters(reply)
	if !ok || now == w.known {
		return
	}
	if w.known != "" {
		w.hub.flushSubscribers()
	}
	w.known = now
	w.breaker.setRoute(ranges)
}

// slotRange is a range of slots and the address of the master serving it.
type slotRange struct {
	first, last int
	addr        string
}

// slotMasters reads a CLUSTER SLOTS reply: which master serves which
// slots, and a fingerprint of it, one "first-last host:port id" line per
// range, ordered by first slot. The master's node ID and address are both
// in it, so a role swap, a slot moved between masters and a node replaced
// on the same address all change it. ok is false for a reply it cannot
// read.
func slotMasters(reply []rueidis.RedisMessage) (ranges []slotRange, fingerprint string, ok bool) {
	lines := make([]string, 0, len(reply))
	for _, r := range reply {
		// first slot, last slot, master [host, port, node ID, ...], replicas...
		fields, err := r.ToArray()
		if err != nil || len(fields) < 3 {
			return nil, "", false
		}
		first, err1 := fields[0].AsInt64()
		last, err2 := fields[1].AsInt64()
		master, err3 := fields[2].ToArray()
		if err1 != nil || err2 != nil || err3 != nil || len(master) < 2 {
			return nil, "", false
		}
		host, err1 := master[0].ToString()
		port, err2 := master[1].AsInt64()
		if err1 != nil || err2 != nil {
			return nil, "", false
		}
		id := ""
		if len(master) > 2 {
			id, _ = master[2].ToString()
		}
		addr := net.JoinHostPort(host, strconv.FormatInt(port, 10))
		ranges = append(ranges, slotRange{first: int(first), last: int(last), addr: addr})
		lines = append(lines, fmt.Sprintf("%05d-%05d %s %s\n", first, last, addr, id))
	}
	slices.Sort(lines) // fixed-width first slots: sorted by range
	return ranges, strings.Join(lines, ""), len(lines) > 0
}

func (w *topologyWatch) stop() {
	w.cancel()
	<-w.stopped
}
