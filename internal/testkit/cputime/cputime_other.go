//go:build !unix

package cputime

import "time"

// Process returns 0: getrusage is a Unix call, so benchmarks report a CPU
// time of 0 per operation elsewhere.
func Process() time.Duration { return 0 }
