package typecachetest_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/typecachetest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestNewServer(t *testing.T) {
	tests := []struct {
		name string
		opts []typecachetest.Option
		mode string // CLUSTER INFO's cluster_state, or "" for no cluster
	}{
		{"standalone", nil, ""},
		{"cluster", []typecachetest.Option{typecachetest.Cluster()}, "ok"},
		{"sentinel", []typecachetest.Option{typecachetest.Sentinel()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addr string
			t.Run("serves", func(t *testing.T) {
				srv := typecachetest.NewServer(t, tt.opts...)
				addr = srv.Addr()
				redis := srv.Client(t).Redis()
				ctx := context.Background()
				for i := range 20 { // keys of several slots: a cluster routes them
					key := fmt.Sprintf("k%d", i)
					if err := redis.Do(ctx, redis.B().Set().Key(key).Value("v").Build()).Error(); err != nil {
						t.Fatalf("SET %s: %v", key, err)
					}
					if got, err := redis.Do(ctx, redis.B().Get().Key(key).Build()).ToString(); err != nil || got != "v" {
						t.Fatalf("GET %s = %q, %v; want v", key, got, err)
					}
				}
				info, err := redis.Do(ctx, redis.B().ClusterInfo().Build()).ToString()
				if tt.mode == "" && err == nil {
					t.Fatalf("CLUSTER INFO on a standalone server succeeded: %s", info)
				}
				if tt.mode != "" && !strings.Contains(info, "cluster_state:"+tt.mode) {
					t.Fatalf("CLUSTER INFO = %q, %v; want cluster_state:%s", info, err, tt.mode)
				}
			})
			if conn, err := net.Dial("tcp", addr); err == nil {
				conn.Close()
				t.Fatalf("%s still accepts connections after its test ended", addr)
			}
		})
	}
}

func TestCloseStopsTheServer(t *testing.T) {
	srv := typecachetest.NewServer(t)
	redis := srv.Client(t).Redis()
	srv.Close()
	if err := redis.Do(context.Background(), redis.B().Ping().Build()).Error(); err == nil {
		t.Fatal("PING succeeded after Close")
	}
	srv.Close() // a second call, and the cleanup's, do nothing
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing.T's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestNoServerBinaryFails(t *testing.T) {
	tests := []struct {
		name   string
		server string // TYPECACHE_SERVER
		want   []string
	}{
		{"default", "", []string{"redis-server", "valkey-server", "PATH", "apt-get install -y redis-server", "brew install redis"}},
		{"valkey", "valkey-server", []string{"TYPECACHE_SERVER=valkey-server", "bookworm-backports", "apt-get install -y -t bookworm-backports valkey-server", "brew install valkey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("TYPECACHE_SERVER", tt.server)
			rec := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				typecachetest.NewServer(rec)
				t.Error("NewServer returned without a server binary")
			}()
			<-done
			for _, want := range tt.want {
				if !strings.Contains(rec.msg, want) {
					t.Errorf("failure message %q does not mention %q", rec.msg, want)
				}
			}
		})
	}
}
