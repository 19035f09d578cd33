// Package cputime reads the processor time of the running process, for the
// benchmarks that report CPU time per operation beside the time it took:
// on a loaded machine the wall clock stretches with waits for a processor,
// the CPU time much less.
package cputime
