package lock

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/redistest"
)

// slotTestKeys cover every branch of NameFor and of Redis's hash-tag rule.
var slotTestKeys = []string{
	"user:42", "", "a", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap",
	"foo{bar}{zap}", "{}a", "a}b", "}", "{", "{a", "a{b", "x{}y}z", "{}}", "é{ü}", "\x00}\xff",
}

func TestHashSlotMatchesRedis(t *testing.T) {
	srv := redistest.Cluster(t)
	raw := srv.Raw(t)
	ctx := context.Background()
	keyslot := func(key string) uint16 {
		t.Helper()
		n, err := raw.Do(ctx, raw.B().ClusterKeyslot().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
		}
		return uint16(n)
	}
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	for _, key := range slotTestKeys {
		if got, want := hashSlot(key), keyslot(key); got != want {
			t.Errorf("hashSlot(%q) = %d, Redis says %d", key, got, want)
		}
		lockKey := lockSpace.Key("", NameFor(key))
		if got, want := keyslot(lockKey), keyslot(key); got != want {
			t.Errorf("NameFor(%q): lock key %q is in slot %d, the key in %d", key, lockKey, got, want)
		}
		if keyslot(lockSpace.Key(fenceKind, NameFor(key))) != keyslot(lockKey) {
			t.Errorf("NameFor(%q): the fence key is in another slot", key)
		}
	}
}

// TestSlotSuffixesCoverEverySlot: every 14-bit value has a suffix, so
// NameFor always finds one.
func TestSlotSuffixesCoverEverySlot(t *testing.T) {
	for v, s := range slotSuffixes() {
		if len(s) != 3 || crc16(s)%clusterSlots != uint16(v) {
			t.Fatalf("suffix of %d is %q", v, s)
		}
	}
}

// TestNameForIsCheap is the attack of a key that contains '}' without a hash
// tag, which made NameFor search for a decimal tag on every cache miss
// (about 1.5 ms of CPU per call): 1,000 such keys, one per slot, must take
// far less than that.
func TestNameForIsCheap(t *testing.T) {
	NameFor("warm}up") // builds the suffix table once
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "odd}" + strconv.Itoa(i) + strings.Repeat("}", i%50)
	}
	start := time.Now()
	for _, key := range keys {
		NameFor(key)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("1,000 NameFor calls took %v", elapsed)
	}
}

func FuzzNameFor(f *testing.F) {
	for _, key := range slotTestKeys {
		f.Add(key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		name := NameFor(key)
		if hashSlot(lockSpace.Key("", name)) != hashSlot(key) || hashSlot(lockSpace.Key(fenceKind, name)) != hashSlot(key) {
			t.Fatalf("NameFor(%q) = %q: slot %d, key's slot %d", key, name, hashSlot(lockSpace.Key("", name)), hashSlot(key))
		}
		// Distinct keys get distinct names: the key can be read back.
		if back := name[:len(name)-4]; back != key || name[len(key)] != '#' {
			t.Fatalf("NameFor(%q) = %q does not determine the key", key, name)
		}
	})
}

func TestWakeRouter(t *testing.T) {
	r := newWakeRouter()
	a1, a2, b := r.add("a"), r.add("a"), r.add("b")
	woken := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	r.Invalidate("a")
	r.Invalidate("a") // a second wake-up while one is pending must not block
	r.Invalidate("c")
	if !woken(a1) || !woken(a2) || woken(b) {
		t.Fatal("Invalidate(a) must wake exactly the waiters on a")
	}
	r.InvalidateAll()
	if !woken(a1) || !woken(a2) || !woken(b) {
		t.Fatal("InvalidateAll must wake every waiter")
	}
	r.remove("a", a1)
	r.remove("a", a2)
	r.remove("b", b)
	if len(r.waiters) != 0 {
		t.Fatalf("waiters left after remove: %v", r.waiters)
	}
}

func TestLocalTurns(t *testing.T) {
	turns := newLocalTurns()
	closed := make(chan struct{})
	first, ok := turns.try("k")
	if !ok {
		t.Fatal("try on a free name failed")
	}
	if _, ok := turns.try("k"); ok {
		t.Fatal("try succeeded while another goroutine has the turn")
	}
	if _, ok := turns.try("other"); !ok {
		t.Fatal("another name is blocked")
	} else {
		turns.leave("other", turns.queues["other"])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := turns.wait(ctx, "k", "k", closed); err == nil {
		t.Fatal("wait with a cancelled context succeeded")
	}
	next := make(chan *turnQueue)
	go func() {
		q, _, err := turns.wait(context.Background(), "k", "k", closed)
		if err != nil {
			t.Error(err)
		}
		next <- q
	}()
	turns.leave("k", first)
	turns.leave("k", <-next)
	if len(turns.queues) != 0 {
		t.Fatalf("queues left after everyone left: %v", turns.queues)
	}
}
