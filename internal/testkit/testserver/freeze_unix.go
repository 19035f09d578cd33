//go:build unix

package testserver

import (
	"os"
	"syscall"
)

// freezeSignal stops a process and thawSignal continues it (see
// Node.Freeze).
var freezeSignal, thawSignal os.Signal = syscall.SIGSTOP, syscall.SIGCONT
