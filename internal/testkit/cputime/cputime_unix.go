//go:build unix

package cputime

import (
	"syscall"
	"time"
)

// Process returns the processor time, user and system, that this process
// has used so far (getrusage), or 0 if it cannot be read.
func Process() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
