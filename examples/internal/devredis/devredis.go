// Package devredis gives the example programs a Redis to talk to, so that
// they run as pasted on a machine that has redis-server (or valkey-server)
// installed: the server REDIS_URL names when it is set, otherwise a
// throwaway redis-server on a free loopback port, persistence off.
//
// Real programs do not need it: they build their rueidis.ClientOption from
// their own configuration.
package devredis

import (
	"fmt"
	"os"
	"strings"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

// Option returns client options for REDIS_URL (a URL such as
// redis://user:pass@host:6379/0, or a bare host:port), or for a
// redis-server it starts. Call stop when done: it stops that server (it does
// nothing for REDIS_URL).
func Option() (opt rueidis.ClientOption, stop func(), err error) {
	if url := os.Getenv("REDIS_URL"); url != "" {
		if !strings.Contains(url, "://") {
			url = "redis://" + url
		}
		opt, err := rueidis.ParseURL(url)
		if err != nil {
			return opt, nil, fmt.Errorf("devredis: REDIS_URL: %w", err)
		}
		return opt, func() {}, nil
	}
	srv, err := redistest.StartStandalone()
	if err != nil {
		return rueidis.ClientOption{}, nil, err
	}
	return srv.Option(), srv.Stop, nil
}
