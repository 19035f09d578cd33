package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"
)

// What a Cache stores under a key, its envelope around the codec's bytes:
//
//	byte 0   storedLayout, or'ed with the flags (flagAbsent: a cached "not
//	         found", no payload; flagHardExpiry: never serve past the
//	         key's expiry, see Options.TTLFunc)
//	7 bytes  the version, big-endian (see scripts.go)
//	7 bytes  the generation, big-endian
//	uvarint  stale window in milliseconds
//	uvarint  load duration Δ in microseconds (XFetch)
//	...      the codec's bytes
//
// A Cache encodes the whole of it (appendEnvelope) with both stamps 0,
// and the scripts write the stamps in place when they store (SETRANGE):
// the value goes from the script's argument to the key as it is, never
// through a Lua string built of it, which would cost Redis more than a
// microsecond per kilobyte. The envelope
// holds durations, never clock readings: a reader computes the soft expiry
// as the key's hard expiry (from the server's PTTL, which rueidis reads
// with the value) minus the stale window, so the clocks of the writing and
// the reading process never meet. Bytes of another layout (an earlier
// release's) read as undecodable: a miss that loads over them.
const (
	storedLayout   byte = 0xC4
	flagAbsent     byte = 1 << 0
	flagHardExpiry byte = 1 << 1
	flagBits            = flagAbsent | flagHardExpiry
	stampBytes          = 7
	headerBytes         = 1 + 2*stampBytes // byte 0 and the two stamps
)

// errEnvelope reports bytes under a key that a Cache did not write.
var errEnvelope = errors.New("cache: bytes were not written by a typecache cache")

// envelope is a decoded value as stored, but for its version and
// generation.
type envelope struct {
	absent   bool
	exact    bool          // flagHardExpiry
	stale    time.Duration // stale window
	loadTime time.Duration // Δ
	payload  []byte        // the codec's bytes, aliasing the input
}

// appendEnvelope appends the envelope up to the codec's bytes, with both
// stamps 0 (the scripts write them).
func appendEnvelope(dst []byte, flags byte, stale, loadTime time.Duration) []byte {
	dst = append(dst, storedLayout|flags)
	dst = append(dst, make([]byte, 2*stampBytes)...)
	dst = binary.AppendUvarint(dst, uint64(stale/time.Millisecond))
	return binary.AppendUvarint(dst, uint64(loadTime/time.Microsecond))
}

// parseStored splits what a Cache stores under a key into its version and
// its envelope (the generation is checked by the script that read it).
func parseStored(s string) (uint64, envelope, error) {
	if len(s) < headerBytes+2 || s[0]&^flagBits != storedLayout {
		return 0, envelope{}, errEnvelope
	}
	version := stampAt(s, 1)
	env, err := parseEnvelope(s[0]&flagBits, unsafe.Slice(unsafe.StringData(s[headerBytes:]), len(s)-headerBytes))
	return version, env, err
}

// olderGeneration reports whether s, bytes stored under a key, is a value
// of a generation older than gen (16 decimal digits, see Clear), which
// readers must not be served, as readScript's stamps(s) decides: bytes too
// short for a header, or of another layout, are not (they read as
// undecodable).
func olderGeneration(s, gen string) (bool, error) {
	current, err := strconv.ParseUint(gen, 10, 64)
	if err != nil {
		return false, fmt.Errorf("cache: unexpected generation %q", gen)
	}
	if len(s) < headerBytes || s[0]&^flagBits != storedLayout {
		return false, nil
	}
	return stampAt(s, 1+stampBytes) < current, nil
}

// stampAt reads the big-endian stamp (the version or the generation) at
// offset at of s, a stored value's header.
func stampAt(s string, at int) uint64 {
	var stamp uint64
	for _, b := range []byte(s[at : at+stampBytes]) {
		stamp = stamp<<8 | uint64(b)
	}
	return stamp
}

// parseEnvelope parses what follows the stamps, with the flags of byte 0.
func parseEnvelope(flags byte, rest []byte) (envelope, error) {
	e := envelope{absent: flags&flagAbsent != 0, exact: flags&flagHardExpiry != 0}
	staleMs, n := binary.Uvarint(rest)
	if n <= 0 || staleMs > uint64(MaxTTL/time.Millisecond) {
		return envelope{}, errEnvelope
	}
	rest = rest[n:]
	loadUs, n := binary.Uvarint(rest)
	if n <= 0 || loadUs > uint64(MaxTTL/time.Microsecond) {
		return envelope{}, errEnvelope
	}
	e.stale = time.Duration(staleMs) * time.Millisecond
	e.loadTime = time.Duration(loadUs) * time.Microsecond
	e.payload = rest[n:]
	if e.absent && len(e.payload) != 0 {
		return envelope{}, errEnvelope
	}
	return e, nil
}
