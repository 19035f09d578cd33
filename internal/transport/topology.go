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

	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/rediscmd"
)

// topologyWatch asks the cluster, every interval, which master serves each
// slot, and flushes the hub's subscribers as soon as any slot's master
// differs from the last answer: values read from a node that has since lost
// the slot are no longer covered by tracking, since the node that now owns
// the slot never tracked them and the old one may never send their
// invalidations. rueidis's own view cannot tell: its node set includes the
// replicas, so a failover that swaps the roles of two known nodes leaves it
// unchanged, and rueidis reports the old connection as lost only when it
// closes it, seconds after the switch. It also tells the Conn's breakers
// which node serves which slot.
//
// The breakers find each node's client in rueidis's address map
// (Client.Nodes), so the watch asks as rueidis does and names the nodes by
// rueidis's rules: CLUSTER SHARDS on a server whose HELLO version is 8 or
// more (Valkey 8 reports 8.0.1), or 7 when ClusterOption.PreferClusterShards
// is set, and CLUSTER SLOTS otherwise; an empty or NULL endpoint
// (cluster-preferred-endpoint-type unknown-endpoint) is the answering
// node's host, and a node whose endpoint is "?" is left out.
type topologyWatch struct {
	cancel  context.CancelFunc
	stopped chan struct{}

	redis        rueidis.Client
	hub          *invalidationHub
	breaker      *Breaker
	interval     time.Duration
	preferShards bool // ClusterOption.PreferClusterShards
	tls          bool // CLUSTER SHARDS names a node by its tls-port

	// Built once and pinned (reads rueidis may retry): never recycled.
	slots, shards, info rueidis.Completed

	// Used by one poll at a time.
	known    string         // the last fingerprint
	versions map[string]int // major server version by node address
}

// watchTopology starts the watch. Its first poll is made before it returns,
// so that the breakers know the nodes from the start; the later ones run
// on the watch's goroutine.
func watchTopology(redis rueidis.Client, hub *invalidationHub, breaker *Breaker, opt rueidis.ClientOption) *topologyWatch {
	ctx, cancel := context.WithCancel(context.Background())
	b := redis.B()
	w := &topologyWatch{cancel: cancel, stopped: make(chan struct{}),
		redis: redis, hub: hub, breaker: breaker, interval: opt.ClusterOption.ShardsRefreshInterval / 4,
		preferShards: opt.ClusterOption.PreferClusterShards, tls: opt.TLSConfig != nil,
		slots:    rediscmd.Retried(b.ClusterSlots().Build()),
		shards:   rediscmd.Retried(b.ClusterShards().Build()),
		info:     rediscmd.Retried(b.Info().Section("server").Build()),
		versions: map[string]int{},
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

// poll asks one node after another, in no set order, which master serves
// each slot, until one answers. A poll that no node answers (nodes down
// during the failover) proves nothing: the next one compares with the
// last answer.
func (w *topologyWatch) poll(ctx context.Context) {
	for addr, node := range w.redis.Nodes() {
		ranges, now, err := w.ask(ctx, addr, node)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			delete(w.versions, addr) // perhaps restarted with another version
			continue
		}
		if now == w.known {
			return
		}
		if w.known != "" {
			w.hub.flushSubscribers()
		}
		w.known = now
		w.breaker.setRoute(ranges)
		return
	}
}

// ask asks node, at addr, which master serves each slot, as rueidis would.
func (w *topologyWatch) ask(ctx context.Context, addr string, node rueidis.Client) ([]slotRange, string, error) {
	ctx, cancel := context.WithTimeout(ctx, w.interval)
	defer cancel()
	version, ok := w.versions[addr]
	if !ok {
		info, err := node.Do(ctx, w.info).ToString()
		if err != nil {
			return nil, "", err
		}
		version = serverMajorVersion(info)
		w.versions[addr] = version
	}
	host, _, _ := net.SplitHostPort(addr)
	cmd, parse := w.slots, parseSlots
	if version >= 8 || w.preferShards && version >= 7 {
		cmd = w.shards
		parse = func(reply any, host string) ([]slotRange, string, bool) { return parseShards(reply, host, w.tls) }
	}
	msg, err := node.Do(ctx, cmd).ToMessage()
	if err != nil {
		return nil, "", err
	}
	reply, err := msg.ToAny()
	if err != nil {
		return nil, "", err
	}
	ranges, fingerprint, ok := parse(reply, host)
	if !ok {
		return nil, "", fmt.Errorf("typecache: %s: no slot served in its reply", addr)
	}
	return ranges, fingerprint, nil
}

// serverMajorVersion returns the major version in an INFO server reply, as
// HELLO reports it: valkey_version on Valkey, redis_version otherwise; 0
// when there is none.
func serverMajorVersion(info string) int {
	version := ""
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "valkey_version:"); ok {
			version = v
			break
		}
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			version = v
		}
	}
	major, _, _ := strings.Cut(version, ".")
	n, _ := strconv.Atoi(major)
	return n
}

// slotRange is a range of slots and the address of the master serving it.
type slotRange struct {
	first, last int
	addr        string
}

// parseSlots reads a CLUSTER SLOTS reply, as rueidis.RedisMessage.ToAny
// gives it, from a node whose host is host: which master serves which
// slots, and a fingerprint of it (see fingerprint). Entries it cannot read
// are left out, as rueidis leaves them out; ok is false when none is left.
func parseSlots(reply any, host string) (ranges []slotRange, fingerprint string, ok bool) {
	entries, _ := reply.([]any)
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		// first slot, last slot, master [endpoint, port, node ID, ...], replicas...
		fields, _ := e.([]any)
		if len(fields) < 3 {
			continue
		}
		first, ok1 := fields[0].(int64)
		last, ok2 := fields[1].(int64)
		master, _ := fields[2].([]any)
		if !ok1 || !ok2 || len(master) < 2 {
			continue
		}
		endpoint, _ := master[0].(string)
		port, _ := master[1].(int64)
		addr := nodeAddr(host, endpoint, port)
		r, valid := newSlotRange(first, last, addr)
		if !valid {
			continue
		}
		id := ""
		if len(master) > 2 {
			id, _ = master[2].(string)
		}
		ranges = append(ranges, r)
		ids = append(ids, id)
	}
	return ranges, rangesFingerprint(ranges, ids), len(ranges) > 0
}

// parseShards reads a CLUSTER SHARDS reply, as rueidis.RedisMessage.ToAny
// gives it, as parseSlots reads CLUSTER SLOTS: each shard's online master
// serves its slots; a shard without one is left out. With tls, a node is
// named by its tls-port when it has one.
func parseShards(reply any, host string, tls bool) (ranges []slotRange, fingerprint string, ok bool) {
	shards, _ := reply.([]any)
	var ids []string
	for _, s := range shards {
		shard := asMap(s)
		slots, _ := shard["slots"].([]any)
		nodes, _ := shard["nodes"].([]any)
		addr, id := "", ""
		for _, n := range nodes {
			node := asMap(n)
			if node["health"] != "online" || node["role"] != "master" {
				continue
			}
			port, _ := node["port"].(int64)
			if tlsPort, _ := node["tls-port"].(int64); tls && tlsPort > 0 {
				port = tlsPort
			}
			endpoint, _ := node["endpoint"].(string)
			addr = nodeAddr(host, endpoint, port)
			id, _ = node["id"].(string)
		}
		if addr == "" {
			continue
		}
		for i := 0; i+1 < len(slots); i += 2 {
			first, ok1 := slots[i].(int64)
			last, ok2 := slots[i+1].(int64)
			if r, valid := newSlotRange(first, last, addr); ok1 && ok2 && valid {
				ranges = append(ranges, r)
				ids = append(ids, id)
			}
		}
	}
	return ranges, rangesFingerprint(ranges, ids), len(ranges) > 0
}

// asMap returns v, a RESP3 map or a RESP2 array of pairs, as a map.
func asMap(v any) map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return v
	case []any:
		m := make(map[string]any, len(v)/2)
		for i := 0; i+1 < len(v); i += 2 {
			if k, ok := v[i].(string); ok {
				m[k] = v[i+1]
			}
		}
		return m
	}
	return nil
}

// nodeAddr names a node as rueidis does: endpoint:port, where an empty
// endpoint (or a NULL one, which reads as empty) is the host of the node
// that answered, and "?" (no endpoint of the preferred type) names none.
func nodeAddr(host, endpoint string, port int64) string {
	switch endpoint {
	case "?":
		return ""
	case "":
		endpoint = host
	}
	return net.JoinHostPort(endpoint, strconv.FormatInt(port, 10))
}

// newSlotRange returns the range of slots first to last served by addr,
// cut to the cluster's slots as rueidis cuts it (a range that starts below
// 0 serves nothing); valid is false when no slot is left, or no address.
func newSlotRange(first, last int64, addr string) (r slotRange, valid bool) {
	last = min(last, keyspace.ClusterSlots-1)
	if addr == "" || first < 0 || first > last {
		return slotRange{}, false
	}
	return slotRange{first: int(first), last: int(last), addr: addr}, true
}

// rangesFingerprint describes ranges, whose masters have the node IDs ids,
// one "first-last host:port id" line per range, ordered by first slot.
// The master's node ID and address are both in it, so a role swap, a slot
// moved between masters and a node replaced on the same address all change
// it.
func rangesFingerprint(ranges []slotRange, ids []string) string {
	lines := make([]string, len(ranges))
	for i, r := range ranges {
		lines[i] = fmt.Sprintf("%05d-%05d %s %s\n", r.first, r.last, r.addr, ids[i])
	}
	slices.Sort(lines) // fixed-width first slots: sorted by range
	return strings.Join(lines, "")
}

func (w *topologyWatch) stop() {
	w.cancel()
	<-w.stopped
}
