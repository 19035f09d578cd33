//go:build !linux

package testserver

import "syscall"

// diesWithParent returns nil: only Linux can tie a child's life to its
// parent's, so elsewhere a test binary killed before its cleanups leaves its
// servers running (their directories are in the system's temporary
// directory).
func diesWithParent() *syscall.SysProcAttr { return nil }
