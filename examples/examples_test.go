// Package examples_test builds every example program of this module and runs
// it as a user would, against the throwaway redis-server it starts itself,
// with a timeout. The webapp is a module of its own (it brings in
// OpenTelemetry): its own tests run it against a throwaway redis-server.
package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runTimeout bounds one example run, server start included.
const runTimeout = time.Minute

func TestExamplesRun(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command(goTool(t), "build", "-o", bin+string(filepath.Separator), "./quickstart")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		args []string
		want []string // lines of output, in order
	}{
		{
			name: "quickstart",
			want: []string{
				"loading user 42 from the database (50 ms)",
				"fetch 1: {ID:42 Name:Ada Lovelace Email:ada@example.com}", "loaded",
				"fetch 4: {ID:42 Name:Ada Lovelace Email:ada@example.com}", "local tier hit",
				"stats: loads=1 ",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, tt.name), tt.args...)
			cmd.Env = withoutRedisURL(os.Environ())
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("%s did not finish within %v:\n%s", tt.name, runTimeout, out)
			}
			if err != nil {
				t.Fatalf("%s: %v\n%s", tt.name, err, out)
			}
			rest := string(out)
			for _, line := range tt.want {
				i := strings.Index(rest, line)
				if i < 0 {
					t.Fatalf("%s: output lacks %q (in order):\n%s", tt.name, line, out)
				}
				rest = rest[i+len(line):]
			}
		})
	}
}

// withoutRedisURL drops REDIS_URL, so each example starts its own
// redis-server: the path a user on a fresh machine takes.
func withoutRedisURL(env []string) []string {
	kept := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "REDIS_URL=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// goTool returns the go command; go test puts its own first on PATH.
func goTool(t *testing.T) string {
	path, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH: %v", err)
	}
	return path
}
