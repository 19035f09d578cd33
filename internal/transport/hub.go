package transport

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"
)

// invalidationHub fans rueidis's invalidation messages out to subscribers.
// dispatch runs on reader goroutines and takes no lock: it reads an immutable
// slice of subscriptions that subscribe and unsubscribe replace (copy on write).
type invalidationHub struct {
	userCallback func([]rueidis.RedisMessage)

	mu            sync.Mutex // serialises writers of subscriptions
	subscriptions atomic.Pointer[[]*subscription]
}

type subscription struct {
	prefix     string
	subscriber Subscriber
}

func newInvalidationHub(userCallback func([]rueidis.RedisMessage)) *invalidationHub {
	h := &invalidationHub{userCallback: userCallback}
	h.subscriptions.Store(&[]*subscription{})
	return h
}

func (h *invalidationHub) subscribe(prefix string, s Subscriber) func() {
	sub := &subscription{prefix: prefix, subscriber: s}
	h.mu.Lock()
	old := *h.subscriptions.Load()
	next := make([]*subscription, len(old), len(old)+1)
	copy(next, old)
	next = append(next, sub)
	h.subscriptions.Store(&next)
	h.mu.Unlock()

	var once sync.Once
	return func() { once.Do(func() { h.unsubscribe(sub) }) }
}

func (h *invalidationHub) unsubscribe(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.subscriptions.Load()
	next := make([]*subscription, 0, len(old))
	for _, s := range old {
		if s != sub {
			next = append(next, s)
		}
	}
	h.subscriptions.Store(&next)
}

// dispatch is the rueidis OnInvalidations callback. A nil slice means "flush
// everything" (a lost connection or FLUSHALL).
func (h *invalidationHub) dispatch(messages []rueidis.RedisMessage) {
	if h.userCallback != nil {
		h.userCallback(messages)
	}
	if messages == nil {
		h.flushSubscribers()
		return
	}
	subs := *h.subscriptions.Load()
	for _, m := range messages {
		key, err := m.ToString()
		if err != nil {
			continue
		}
		for _, s := range subs {
			if strings.HasPrefix(key, s.prefix) {
				s.subscriber.Invalidate(key)
			}
		}
	}
}

// flushSubscribers tells every subscriber to drop everything.
func (h *invalidationHub) flushSubscribers() {
	for _, s := range *h.subscriptions.Load() {
		s.subscriber.InvalidateAll()
	}
}
