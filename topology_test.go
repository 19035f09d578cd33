package typecache_test

import (
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestTopologyChangeFlushesSubscribers makes, one after the other on one
// cluster, the slot moves a client must notice although the set of nodes
// it knows stays the same: a coordinated failover and a forced one (the
// roles of two known nodes swap), and a slot handed from one master to
// another. Each must reach subscribers within a few polls of the cluster
// agreeing on it. (A coordinated failover may also drop the client's connection to the
// old master, which flushes too; the other two drop none, so they show the
// watch at work.)
func TestTopologyChangeFlushesSubscribers(t *testing.T) {
	srv := redistest.NewCluster(t, redistest.ClusterOptions{Replicas: 1})
	const interval = 200 * time.Millisecond // polled every 50 ms
	opt := srv.Option()
	opt.ClusterOption.ShardsRefreshInterval = interval
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	rec := redistest.NewRecorder()
	defer client.Subscribe("", rec)()

	replicas := srv.Nodes()[3:]
	key := "{a}" + redistest.Prefix(t) // slot 15495, on the third master
	steps := []struct {
		name   string
		change func(t *testing.T) // returns once every node agrees
	}{
		// Each failover on a shard of its own: a master votes for one
		// failover of a shard per 2 × cluster-node-timeout.
		{"failover", func(t *testing.T) { srv.Failover(t, replicas[0], "") }},
		{"failover force", func(t *testing.T) { srv.Failover(t, replicas[1], "FORCE") }},
		{"slot moved between masters", func(t *testing.T) { srv.MoveSlot(t, key, replicas[0]) }},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			for len(rec.Flushes()) != 0 { // earlier flushes: connecting, the previous step
				<-rec.Flushes()
			}
			step.change(t)
			// The change is complete on every node; the watch polls every
			// 50 ms. The margin is for a loaded machine.
			select {
			case <-rec.Flushes():
			case <-time.After(2 * time.Second):
				t.Fatal("no flush-all within 2 s of every node agreeing on the change")
			}
		})
	}
}
