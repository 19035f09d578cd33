//go:build !unix

package scale_test

import "time"

// processCPU returns 0: getrusage is a Unix call, so client CPU per
// operation is reported as 0 elsewhere.
func processCPU() time.Duration { return 0 }
