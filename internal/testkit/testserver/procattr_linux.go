package testserver

import "syscall"

// diesWithParent makes the server die with the test binary, even when the
// binary is killed before its cleanups run.
func diesWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
