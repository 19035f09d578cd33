package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverEnv is the environment variable that picks the server binary: a
// name on PATH (valkey-server) or a path. Unset, redis-server is used, or
// valkey-server when redis-server is missing.
const serverEnv = "TYPECACHE_SERVER"

// InstallHint is how to install a server binary.
const InstallHint = "sudo apt-get install -y redis-server (Debian, Ubuntu), brew install redis (macOS), or valkey-server from your distribution"

// valkeyInstallHint is how to install valkey-server, which Debian 12 ships
// in its backports suite.
const valkeyInstallHint = "add Debian's bookworm-backports suite (Components: main) to apt's sources, then " +
	"sudo apt-get update && sudo apt-get install -y -t bookworm-backports valkey-server (Debian 12; " +
	"later Debian and Ubuntu releases: sudo apt-get install -y valkey-server), brew install valkey (macOS)"

// ErrNoServer is returned when the server binary is not found: neither
// redis-server nor valkey-server on PATH, or not the one TYPECACHE_SERVER
// names.
var ErrNoServer = errors.New("no server binary")

// Node is one redis-server process.
type Node struct {
	// Addr is the node's host:port on loopback.
	Addr string
	// Port is the node's TCP port.
	Port int

	binary string
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// serverBinary returns the path of the server binary to run: the one
// serverEnv names, or else redis-server or valkey-server from PATH. Its
// error, when none is found, wraps ErrNoServer and says how to install it.
func serverBinary() (string, error) {
	if name := os.Getenv(serverEnv); name != "" {
		path, err := exec.LookPath(name)
		if err != nil {
			hint := InstallHint
			if strings.Contains(filepath.Base(name), "valkey") {
				hint = valkeyInstallHint
			}
			return "", fmt.Errorf("%w: %s=%s: %v; install it: %s", ErrNoServer, serverEnv, name, err, hint)
		}
		return path, nil
	}
	for _, name := range []string{"redis-server", "valkey-server"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: neither redis-server nor valkey-server is on PATH; install one: %s", ErrNoServer, InstallHint)
}

// freePort returns a loopback port that is free now, and whose cluster bus
// port (port+10000) is free too.
func freePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("no free loopback port pair found")
}

// startNode starts a redis-server in dir with persistence off; conf, when
// not "", is its config file (a Sentinel's, which it rewrites), and extra
// are further config directives ("cluster-enabled", "yes", ...).
func startNode(dir, conf string, extra ...string) (*Node, error) {
	binary, err := serverBinary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 { // a free port can be taken between freePort and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		n := &Node{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, binary: binary, dir: dir}
		n.args = append([]string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", dir,
			"--save", "",
			"--appendonly", "no",
			"--daemonize", "no",
			"--logfile", filepath.Join(dir, "server.log"),
		}, extra...)
		if conf != "" {
			n.args = append([]string{conf}, n.args...)
		}
		if lastErr = n.Start(); lastErr == nil {
			return n, nil
		}
	}
	return nil, lastErr
}

// Start starts the node's process again with the same port and settings,
// after Stop or Kill. Data is gone: persistence is off.
func (n *Node) Start() error {
	cmd := exec.Command(n.binary, n.args...)
	cmd.Dir = n.dir
	cmd.SysProcAttr = diesWithParent()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.binary, err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(n.exited)
	}()
	if err := n.waitReady(10 * time.Second); err != nil {
		n.Kill()
		return fmt.Errorf("%s on port %d did not start: %w\n%s", n.binary, n.Port, err, n.logTail())
	}
	return nil
}

// Binary returns the path of the server binary the node runs.
func (n *Node) Binary() string { return n.binary }

// PID returns the process id of the running server.
func (n *Node) PID() int { return n.cmd.Process.Pid }

// Stop terminates the server (SIGTERM) and waits for it to exit.
func (n *Node) Stop() { n.signal(syscall.SIGTERM) }

// Kill kills the server (SIGKILL) and waits for it to exit.
func (n *Node) Kill() { n.signal(syscall.SIGKILL) }

// Freeze stops the server's process (SIGSTOP) until the test ends, when it
// continues (SIGCONT): the kernel still accepts connections and takes in
// commands, but nothing answers, as with a node whose host stalls. Unlike
// CLIENT PAUSE, which ends at a fixed time, it holds for as long as the
// test runs, however loaded the machine.
func (n *Node) Freeze(t testing.TB) {
	t.Helper()
	if freezeSignal == nil {
		t.Fatalf("freeze %s: %s cannot stop a process (no SIGSTOP)", n.Addr, runtime.GOOS)
	}
	if err := n.cmd.Process.Signal(freezeSignal); err != nil {
		t.Fatalf("freeze %s: %v", n.Addr, err)
	}
	t.Cleanup(n.Thaw)
}

// Thaw continues a frozen server (SIGCONT) before the test ends: the stall
// ends when the test says so, not at a fixed time. Thawing a server that
// runs does nothing.
func (n *Node) Thaw() {
	if thawSignal != nil {
		_ = n.cmd.Process.Signal(thawSignal)
	}
}

func (n *Node) signal(sig syscall.Signal) {
	if n.cmd == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		_ = n.cmd.Process.Kill() // no such signal on this platform
	}
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// Do sends one command over a fresh RESP2 connection and returns the reply's
// first line (simple strings, errors, integers) or bulk payload. It needs no
// client library, so it works on a node that is not yet part of a cluster.
func (n *Node) Do(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", n.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		size, err := strconv.Atoi(line[1:])
		if err != nil || size < 0 {
			return "", err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:size]), nil
	}
	return line, nil
}

func (n *Node) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-n.exited:
			return errors.New("process exited")
		default:
		}
		reply, err := n.Do("PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *Node) logTail() string {
	data, err := os.ReadFile(filepath.Join(n.dir, "server.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
