package faults_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// Environment of a soak helper process: this test binary run again with
// -test.run=^TestHelperProcess$.
const (
	envHelper   = "FAULTS_HELPER" // "soak" or "history"
	envName     = "FAULTS_CACHE_NAME"
	envProcess  = "FAULTS_PROCESS" // 0 or 1
	envOut      = "FAULTS_OUT"     // file the process writes its operations to
	envDuration = "FAULTS_DURATION"
)

const (
	soakProcesses  = 2
	soakGoroutines = 32
	soakKeys       = 1024
)

func soakMix(process int, c *cache.Cache[entry]) mix {
	return mix{
		keys: soakKeys, goroutines: soakGoroutines,
		ownerBase: process * soakGoroutines, owners: soakProcesses * soakGoroutines,
		readPct: 90, writePct: 8,
		cacheFor: func(int) (*cache.Cache[entry], int8) { return c, int8(process) },
	}
}

// TestHelperProcess is the body of a soak process (or, with
// FAULTS_HELPER=history, of a consistency history process); run directly,
// it does nothing. It connects, prints "ready", waits for "go" on stdin, runs the
// mixed load for FAULTS_DURATION and writes its operations to FAULTS_OUT.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(envHelper) {
	case "soak":
	case "history":
		historyProcess(t)
		return
	default:
		return
	}
	process, _ := strconv.Atoi(os.Getenv(envProcess))
	duration, err := time.ParseDuration(os.Getenv(envDuration))
	if err != nil {
		t.Fatal(err)
	}
	client := redistest.ServerFromEnv().Client(t)
	c, err := cache.New[entry](client, os.Getenv(envName), cache.Options[entry]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := redistest.Ready(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	ops := soakMix(process, c).run(ctx)
	writeOps(t, ops)
}

// Scenario 7: two OS processes × 32 goroutines, 90% reads, 8% writes, 2%
// deletes against one server while every connection is killed
// periodically. Zero wrong values across both processes, no hang.
func TestSoak(t *testing.T) {
	duration := pick(10*time.Second, 60*time.Second)
	killEvery := pick(2500*time.Millisecond, 5*time.Second)
	srv := redistest.NewStandalone(t)
	name := redistest.Name(t) + "soak"
	dir := t.TempDir()

	outs := make([]string, soakProcesses)
	children := redistest.StartChildren(t, soakProcesses, func(p int) []string {
		outs[p] = filepath.Join(dir, "ops"+strconv.Itoa(p))
		return []string{
			envHelper + "=soak",
			srv.Env(),
			envName + "=" + name,
			envProcess + "=" + strconv.Itoa(p),
			envOut + "=" + outs[p],
			envDuration + "=" + duration.String(),
		}
	})
	start := time.Now()
	redistest.Release(t, children)
	// The deadline leaves time for start-up and writing the log.
	kills := waitKillingClients(t, srv, children, "soak", killEvery, start.Add(duration), start.Add(duration+opTimeout+hangSlack+20*time.Second))
	took := time.Since(start)

	ops := readOps[op](t, outs)
	m := soakMix(0, nil)
	writerOf := m.writerOf(func(owner int) int8 { return int8(owner / soakGoroutines) })
	v := checkHistory(ops, writerOf, checkOptions{crossBound: time.Second})
	requireClean(t, v)
	if kills == 0 {
		t.Fatal("no connection was killed")
	}
	s := summarize(ops, duration)
	figure(t, fmt.Sprintf("%d processes × %d goroutines, %s, kills every %s", soakProcesses, soakGoroutines, duration, killEvery),
		"%.0f ops/s, p50 %s, p99 %s, max %s", s.opsPerSec, ms(s.p50), ms(s.p99), ms(s.max))
	figure(t, "soak outcome", "%d ops (%d reads, %d writes, %d deletes), %d failed calls (%d by the open breaker), %d kills, %d mismatches, %d hangs, wall %s",
		len(ops), v.Reads, v.Writes, v.Deletes, v.Errors, v.BreakerErrors, kills, v.Mismatches, v.Hangs, took.Round(time.Millisecond))
}

// writeOps writes a child process's operations to FAULTS_OUT, for readOps.
func writeOps[O any](t *testing.T, ops []O) {
	f, err := os.Create(os.Getenv(envOut))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	if err := binary.Write(w, binary.LittleEndian, ops); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// readOps reads and joins the operations the children wrote to files.
func readOps[O any](t *testing.T, files []string) []O {
	var ops []O
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var zero O
		part := make([]O, len(data)/binary.Size(zero))
		if err := binary.Read(strings.NewReader(string(data)), binary.LittleEndian, part); err != nil {
			t.Fatal(err)
		}
		ops = append(ops, part...)
	}
	return ops
}
