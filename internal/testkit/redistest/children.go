package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/redis/rueidis"
)

// Child is a copy of the test binary running the test package's
// TestHelperProcess: a real OS process, for tests of behaviour across
// processes (stampedes, exact rate limits, soaks).
//
// The parent and its children meet at a barrier: each child calls [Ready]
// once it is connected, StartChildren returns when all have, and [Release]
// lets them all go at the same moment.
type Child struct {
	// Output reads what the child printed after "ready", line by line.
	Output *bufio.Scanner

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	waited  sync.Once
	exitErr error
}

// Wait waits for the child to exit and returns its exit error; it may be
// called more than once, from any goroutine.
func (c *Child) Wait() error {
	c.waited.Do(func() { c.exitErr = c.cmd.Wait() })
	return c.exitErr
}

// StartChildren starts n children, child i with env(i) added to its
// environment, waits until every one has called Ready, and kills them when
// the test ends.
func StartChildren(t testing.TB, n int, env func(i int) []string) []*Child {
	t.Helper()
	children := make([]*Child, n)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), env(i)...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("redistest: start child %d: %v", i, err)
		}
		child := &Child{cmd: cmd, Output: bufio.NewScanner(stdout), stdin: stdin}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = child.Wait() })
		children[i] = child
	}
	for i, c := range children {
		if !c.Output.Scan() || c.Output.Text() != readyLine {
			t.Fatalf("redistest: child %d did not get ready: got %q, %v", i, c.Output.Text(), c.Output.Err())
		}
	}
	return children
}

// Release lets every child waiting in Ready go.
func Release(t testing.TB, children []*Child) {
	t.Helper()
	for i, c := range children {
		if _, err := io.WriteString(c.stdin, goLine+"\n"); err != nil {
			t.Fatalf("redistest: release child %d: %v", i, err)
		}
	}
}

const (
	readyLine = "ready"
	goLine    = "go"
)

// Ready is a child's half of the barrier: it tells the parent the child is
// ready and blocks until the parent calls Release.
func Ready() error {
	fmt.Println(readyLine)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("redistest: waiting for the parent: %w", err)
	}
	if line != goLine+"\n" {
		return errors.New("redistest: unexpected line from the parent: " + line)
	}
	return nil
}

// childServerEnv carries a Server to children: "cluster" or "standalone",
// a space, then the comma-separated seed addresses.
const childServerEnv = "REDISTEST_CHILD_SERVER"

// Env returns the environment entry that lets a child process reach s
// through ServerFromEnv.
func (s *Server) Env() string {
	kind := "standalone"
	if s.cluster {
		kind = "cluster"
	}
	return childServerEnv + "=" + kind + " " + strings.Join(s.option.InitAddress, ",")
}

// ServerFromEnv returns, in a child process, the Server its parent passed
// with Server.Env, or nil when there is none (the test binary was not
// started as a child).
func ServerFromEnv() *Server {
	kind, addrs, ok := strings.Cut(os.Getenv(childServerEnv), " ")
	if !ok {
		return nil
	}
	cluster := kind == "cluster"
	return &Server{cluster: cluster, option: rueidis.ClientOption{
		InitAddress:       strings.Split(addrs, ","),
		ForceSingleClient: !cluster,
	}}
}
