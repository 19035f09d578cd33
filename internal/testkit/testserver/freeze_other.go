//go:build !unix

package testserver

import "os"

// freezeSignal and thawSignal are nil: this platform cannot stop a process
// and continue it, so Node.Freeze fails the test that asks.
var freezeSignal, thawSignal os.Signal
