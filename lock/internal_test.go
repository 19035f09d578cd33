package lock

import (
	"context"
	"strconv"
	"strings"
	"testing"

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
		if key == "" {
			continue
		}
		lockKey := "lock:{" + NameFor(key) + "}"
		if got, want := keyslot(lockKey), keyslot(key); got != want {
			t.Errorf("NameFor(%q): lock key %q is in slot %d, the key in %d", key, lockKey, got, want)
		}
		if keyslot(lockKey+":fence") != keyslot(lockKey) {
			t.Errorf("NameFor(%q): the fence key is in another slot", key)
		}
	}
}

// TestSlotTagCoversEverySlot walks the sequence slotTag searches and checks
// it reaches every slot, so slotTag always returns.
func TestSlotTagCoversEverySlot(t *testing.T) {
	seen := make([]bool, clusterSlots)
	missing := clusterSlots
	i := 0
	for ; missing > 0 && i < 1<<22; i++ {
		if slot := crc16(strconv.Itoa(i)) % clusterSlots; !seen[slot] {
			seen[slot] = true
			missing--
		}
	}
	if missing > 0 {
		t.Fatalf("%d slots have no decimal tag below %d", missing, i)
	}
	t.Logf("every slot has a decimal tag below %d", i)
}

func FuzzNameFor(f *testing.F) {
	for _, key := range slotTestKeys {
		f.Add(key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if key == "" {
			return
		}
		name := NameFor(key)
		lockKey := "lock:{" + name + "}"
		if hashSlot(lockKey) != hashSlot(key) || hashSlot(lockKey+":fence") != hashSlot(key) {
			t.Fatalf("NameFor(%q) = %q: slot %d, key's slot %d", key, name, hashSlot(lockKey), hashSlot(key))
		}
		if strings.HasPrefix(name, "}") {
			t.Fatalf("NameFor(%q) = %q starts with '}'", key, name)
		}
		// Distinct keys get distinct names: the key can be read back.
		back := name
		if _, after, ok := strings.Cut(name, "}"); ok {
			back = after
		}
		if back != key {
			t.Fatalf("NameFor(%q) = %q does not determine the key (read back %q)", key, name, back)
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
	if _, err := turns.wait(ctx, "k", closed); err == nil {
		t.Fatal("wait with a cancelled context succeeded")
	}
	next := make(chan *turnQueue)
	go func() {
		q, err := turns.wait(context.Background(), "k", closed)
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
