package faults_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// full selects the long version of every scenario (make faults).
var full = os.Getenv("FAULTS_FULL") == "1"

// pick returns quick in the default run and long in the full one.
func pick[V any](quick, long V) V {
	if full {
		return long
	}
	return quick
}

const (
	// opTimeout is the deadline of every call the workloads make.
	opTimeout = 2 * time.Second
	// hangSlack is how far past its deadline a call may return before it
	// counts as a hang: scheduling on a loaded 2-core machine under -race.
	hangSlack = time.Second
)

// figuresFile, when FAULTS_FIGURES names a file, collects every figure the
// suite measures (for docs/operations.md).
var figuresFile struct {
	sync.Mutex
	path string
}

func init() { figuresFile.path = os.Getenv("FAULTS_FIGURES") }

// figure logs one measured figure of a scenario, and appends it to
// FAULTS_FIGURES when set.
func figure(t testing.TB, metric string, format string, args ...any) {
	t.Helper()
	value := fmt.Sprintf(format, args...)
	t.Logf("FIGURE | %s | %s | %s", t.Name(), metric, value)
	if figuresFile.path == "" {
		return
	}
	figuresFile.Lock()
	defer figuresFile.Unlock()
	f, err := os.OpenFile(figuresFile.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("FAULTS_FIGURES: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "| %s | %s | %s |\n", t.Name(), metric, value)
}

// percentiles returns the p50, p99 and maximum of durations (sorted in place).
func percentiles(d []time.Duration) (p50, p99, maxD time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return at(0.50), at(0.99), d[len(d)-1]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// waitKillingClients waits for children, released, to exit, killing every
// client connection of srv (killAllClients) every killEvery until
// stopKilling. It fails t when a child fails (what names them) or when they
// still run at deadline, and returns how many times it killed.
func waitKillingClients(t *testing.T, srv *redistest.Server, children []*redistest.Child, what string, killEvery time.Duration, stopKilling, deadline time.Time) (kills int) {
	t.Helper()
	exited := make(chan error, len(children))
	for _, c := range children {
		go func() { exited <- c.Wait() }()
	}
	tick := time.NewTicker(killEvery)
	defer tick.Stop()
	hang := time.NewTimer(time.Until(deadline))
	defer hang.Stop()
	for done := 0; done < len(children); {
		select {
		case <-tick.C:
			if time.Now().Before(stopKilling) {
				kills++
				killAllClients(t, srv)
			}
		case err := <-exited:
			if err != nil {
				t.Fatalf("a %s process failed: %v", what, err)
			}
			done++
		case <-hang.C:
			t.Fatalf("hang: %s processes still running", what)
		}
	}
	return kills
}

// killAllClients closes every normal client connection on every node of
// srv with CLIENT KILL TYPE normal (the killing connection is spared). It
// returns how many connections were killed.
func killAllClients(t testing.TB, srv *redistest.Server) int {
	t.Helper()
	killed := 0
	for _, n := range srv.Nodes() {
		reply, err := n.Do("CLIENT", "KILL", "TYPE", "normal")
		if err != nil {
			if strings.Contains(err.Error(), "connection refused") {
				continue
			}
			t.Errorf("CLIENT KILL on %s: %v", n.Addr, err)
			continue
		}
		var k int
		fmt.Sscan(reply, &k)
		killed += k
	}
	return killed
}
