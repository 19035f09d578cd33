package tier

import (
	"strconv"
	"sync"
	"testing"
)

// TestDoorkeeper checks that a key is new on its first read and seen on the
// next, and that the keys read between two reads of a key make it new again
// only once they are many times the tier's size.
func TestDoorkeeper(t *testing.T) {
	tests := []struct {
		name        string
		maxEntries  int
		between     int     // distinct keys read between two reads of each key
		seenAtLeast float64 // share of keys seen on their second read
		seenAtMost  float64
	}{
		{"read again at once", 1000, 0, 1, 1},
		{"read again after a tier-full of keys", 1000, 1000, 0.6, 0.9},
		{"read again after sixteen tier-fulls", 1000, 16_000, 0, 0.08},
		{"a tier of one entry", 1, 100, 0.85, 0.99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDoorkeeper(tt.maxEntries)
			const keys = 200
			seen, other := 0, 0
			for i := range keys {
				key := "key:" + strconv.Itoa(i)
				if d.Seen(key) {
					t.Fatalf("%s seen on its first read", key)
				}
				for range tt.between {
					d.Seen("other:" + strconv.Itoa(other))
					other++
				}
				if d.Seen(key) {
					seen++
				}
			}
			if share := float64(seen) / keys; share < tt.seenAtLeast || share > tt.seenAtMost {
				t.Errorf("%.2f of the keys seen on their second read, want between %.2f and %.2f", share, tt.seenAtLeast, tt.seenAtMost)
			}
		})
	}
}

// TestDoorkeeperConcurrent reads keys from many goroutines at once (run
// with -race): every key read twice by one goroutine, with only that
// goroutine's keys between, is seen the second time.
func TestDoorkeeperConcurrent(t *testing.T) {
	d := NewDoorkeeper(100_000)
	var wg sync.WaitGroup
	missed := make([]int, 8)
	for g := range missed {
		wg.Go(func() {
			for i := range 1000 {
				key := strconv.Itoa(g) + ":" + strconv.Itoa(i)
				d.Seen(key)
				if !d.Seen(key) {
					missed[g]++
				}
			}
		})
	}
	wg.Wait()
	for g, n := range missed {
		// Another goroutine's key may take the slot in between: rare at
		// 8,000 keys in 2^19 slots.
		if n > 5 {
			t.Errorf("goroutine %d: %d of 1000 keys not seen on their second read", g, n)
		}
	}
}
