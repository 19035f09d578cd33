package transport

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache/internal/keyspace"
)

// slotsEntry is one entry of a CLUSTER SLOTS reply as ToAny gives it.
func slotsEntry(first, last int64, endpoint any, port int64, id string) any {
	return []any{first, last, []any{endpoint, port, id}}
}

// shardsEntry is one shard of a CLUSTER SHARDS reply as ToAny gives it,
// with one master.
func shardsEntry(slots []any, endpoint any, port, tlsPort int64, health string) any {
	return map[string]any{"slots": slots, "nodes": []any{
		map[string]any{"id": "r", "endpoint": "10.0.0.9", "port": int64(7000), "role": "replica", "health": "online"},
		map[string]any{"id": "m", "endpoint": endpoint, "port": port, "tls-port": tlsPort, "role": "master", "health": health},
	}}
}

// TestParseSlots: the nodes of a CLUSTER SLOTS or CLUSTER SHARDS reply get
// the addresses rueidis gives them (Client.Nodes' keys), so that the
// breakers find their nodes' clients.
func TestParseSlots(t *testing.T) {
	tests := []struct {
		name   string
		shards bool
		tls    bool
		reply  any
		want   []slotRange // nil: ok is false
	}{
		{name: "ip", reply: []any{slotsEntry(0, 99, "10.0.0.1", 6379, "a"), slotsEntry(100, 16383, "10.0.0.2", 6379, "b")},
			want: []slotRange{{0, 99, "10.0.0.1:6379"}, {100, 16383, "10.0.0.2:6379"}}},
		{name: "empty endpoint: the answering node's host", reply: []any{slotsEntry(0, 16383, "", 7001, "a")},
			want: []slotRange{{0, 16383, "127.0.0.1:7001"}}},
		{name: "NULL endpoint (unknown-endpoint): the answering node's host", reply: []any{slotsEntry(0, 16383, nil, 7001, "a")},
			want: []slotRange{{0, 16383, "127.0.0.1:7001"}}},
		{name: "hostname", reply: []any{slotsEntry(0, 16383, "redis-0.example", 6379, "a")},
			want: []slotRange{{0, 16383, "redis-0.example:6379"}}},
		{name: "? endpoint: left out", reply: []any{slotsEntry(0, 99, "?", 6379, "a"), slotsEntry(100, 199, "h", 1, "b")},
			want: []slotRange{{100, 199, "h:1"}}},
		{name: "IPv6", reply: []any{slotsEntry(0, 16383, "::1", 6379, "a")}, want: []slotRange{{0, 16383, "[::1]:6379"}}},
		{name: "negative first slot: left out", reply: []any{slotsEntry(-5, 10, "h", 1, "a")}},
		{name: "slots past the last: cut", reply: []any{slotsEntry(16000, 99999, "h", 1, "a")},
			want: []slotRange{{16000, 16383, "h:1"}}},
		{name: "malformed entries: left out", reply: []any{"x", []any{int64(1)}, []any{"a", int64(2), []any{"h", int64(1)}}, slotsEntry(5, 6, "h", 1, "a")},
			want: []slotRange{{5, 6, "h:1"}}},
		{name: "not an array", reply: "ERR"},
		{name: "shards", shards: true, reply: []any{shardsEntry([]any{int64(0), int64(99), int64(200), int64(16383)}, "", 7001, 0, "online")},
			want: []slotRange{{0, 99, "127.0.0.1:7001"}, {200, 16383, "127.0.0.1:7001"}}},
		{name: "shards over TLS: the tls-port", shards: true, tls: true, reply: []any{shardsEntry([]any{int64(0), int64(16383)}, "h", 7001, 8001, "online")},
			want: []slotRange{{0, 16383, "h:8001"}}},
		{name: "shards: a master not online is left out", shards: true, reply: []any{shardsEntry([]any{int64(0), int64(16383)}, "h", 7001, 0, "loading")}},
		{name: "shards as a RESP2 array of pairs", shards: true, reply: []any{[]any{"slots", []any{int64(0), int64(16383)}, "nodes", []any{
			[]any{"id", "m", "endpoint", "h", "port", int64(1), "role", "master", "health", "online"}}}},
			want: []slotRange{{0, 16383, "h:1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []slotRange
			var ok bool
			if tt.shards {
				got, _, ok = parseShards(tt.reply, "127.0.0.1", tt.tls)
			} else {
				got, _, ok = parseSlots(tt.reply, "127.0.0.1")
			}
			if ok != (tt.want != nil) {
				t.Fatalf("ok = %v, ranges %v; want %v", ok, got, tt.want)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(slotRange{})); tt.want != nil && diff != "" {
				t.Fatalf("ranges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServerMajorVersion: the version rueidis reads from HELLO, which
// decides between CLUSTER SLOTS and CLUSTER SHARDS.
func TestServerMajorVersion(t *testing.T) {
	for _, tt := range []struct {
		info string
		want int
	}{
		{"# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n", 7},
		{"# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n", 8},
		{"# Server\r\nredis_version:8.2.0\r\n", 8},
		{"", 0},
	} {
		if got := serverMajorVersion(tt.info); got != tt.want {
			t.Errorf("serverMajorVersion(%q) = %d, want %d", tt.info, got, tt.want)
		}
	}
}

// FuzzParseSlots feeds the slot-reply parsers any reply shape and routes
// the breakers by what they return: nothing may panic, and every range
// must lie within the cluster's slots.
func FuzzParseSlots(f *testing.F) {
	f.Add([]byte{3, 1, 3, 3, 0, 0, 0, 0, 0x3f, 0xff, 3, 3, 1, 1, 'h', 0, 0x18, 0xeb, 1, 1, 'a'})
	f.Add([]byte{3, 1, 3, 3, 0, 0xff, 0xfb, 0, 0, 10, 3, 2, 2, 0, 0, 1})
	f.Add([]byte{3, 1, 4, 2, 1, 5, 's', 'l', 'o', 't', 's', 3, 2, 0, 0, 0, 0, 0x3f, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		reply := decodeFuzzReply(&data, 0)
		b := &Breaker{single: &nodeBreaker{}, nodes: map[string]*nodeBreaker{}}
		for _, parse := range []func() ([]slotRange, string, bool){
			func() ([]slotRange, string, bool) { return parseSlots(reply, "127.0.0.1") },
			func() ([]slotRange, string, bool) { return parseShards(reply, "127.0.0.1", true) },
		} {
			ranges, _, ok := parse()
			if ok != (len(ranges) > 0) {
				t.Fatalf("ok = %v with %d ranges", ok, len(ranges))
			}
			for _, r := range ranges {
				if r.first < 0 || r.last >= keyspace.ClusterSlots || r.first > r.last || r.addr == "" {
					t.Fatalf("range %+v", r)
				}
			}
			b.setRoute(ranges)
		}
	})
}

// decodeFuzzReply builds a reply as ToAny gives it from fuzz bytes: a tag
// byte, then an int16, a string, a nil, an array or a map.
func decodeFuzzReply(data *[]byte, depth int) any {
	next := func() byte {
		if len(*data) == 0 {
			return 0
		}
		c := (*data)[0]
		*data = (*data)[1:]
		return c
	}
	switch next() % 5 {
	case 0:
		return int64(int16(binary.BigEndian.Uint16([]byte{next(), next()})))
	case 1:
		n := min(int(next()), len(*data))
		s := string((*data)[:n])
		*data = (*data)[n:]
		return s
	case 2:
		return nil
	case 3:
		n := int(next() % 8)
		a := make([]any, 0, n)
		for range n {
			if depth < 5 {
				a = append(a, decodeFuzzReply(data, depth+1))
			}
		}
		return a
	}
	n := int(next() % 8)
	m := make(map[string]any, n)
	for range n {
		if depth < 5 {
			k, _ := decodeFuzzReply(data, depth+1).(string)
			m[k] = decodeFuzzReply(data, depth+1)
		}
	}
	return m
}
