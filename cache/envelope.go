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
//	         key's expiry, see Options.TTLFunc; flagStale and
//	         flagLoadTime: the uvarint below follows)
//	6 bytes  the version, big-endian, in ticks of 16 µs (see scripts.go)
//	4 bytes  the generation, big-endian, as its distance in milliseconds
//	         below the version (see generationAt)
//	uvarint  stale window in milliseconds, if flagStale
//	uvarint  load duration Δ in microseconds (XFetch), if flagLoadTime
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
//
// The header is small because every byte counts where a value meets the
// allocator's size classes: a 1,000-byte value in codec.Bytes's frame
// fills jemalloc's 1,024-byte class with these 11 bytes, where a header of
// 17 took it to the next class, 256 bytes more.
const (
	storedLayout    byte = 0xD0
	flagAbsent      byte = 1 << 0
	flagHardExpiry  byte = 1 << 1
	flagStale       byte = 1 << 2
	flagLoadTime    byte = 1 << 3
	flagBits             = flagAbsent | flagHardExpiry | flagStale | flagLoadTime
	versionBytes         = 6
	generationBytes      = 4
	headerBytes          = 1 + versionBytes + generationBytes
	versionTick          = 16 * time.Microsecond
	generationBias       = 1 << 20 // ms: how far a generation may lie ahead of a version
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
// stamps 0 (the scripts write them). flags are flagAbsent and
// flagHardExpiry; it adds those of the durations it writes.
func appendEnvelope(dst []byte, flags byte, stale, loadTime time.Duration) []byte {
	staleMs, loadUs := uint64(stale/time.Millisecond), uint64(loadTime/time.Microsecond)
	if staleMs > 0 {
		flags |= flagStale
	}
	if loadUs > 0 {
		flags |= flagLoadTime
	}
	dst = append(dst, storedLayout|flags)
	dst = append(dst, make([]byte, versionBytes+generationBytes)...)
	if staleMs > 0 {
		dst = binary.AppendUvarint(dst, staleMs)
	}
	if loadUs > 0 {
		dst = binary.AppendUvarint(dst, loadUs)
	}
	return dst
}

// parseStored splits what a Cache stores under a key into its version and
// its envelope (the generation is checked by the script that read it).
func parseStored(s string) (uint64, envelope, error) {
	version, _, ok := headerStamps(s)
	if !ok {
		return 0, envelope{}, errEnvelope
	}
	env, err := parseEnvelope(s[0]&flagBits, unsafe.Slice(unsafe.StringData(s[headerBytes:]), len(s)-headerBytes))
	return version, env, err
}

// olderGeneration reports whether s, bytes stored under a key, is a value
// of a generation older than gen (milliseconds in decimal, see Clear),
// which readers must not be served, as readScript's stamps(s) decides:
// bytes too short for a header, or of another layout, are not (they read
// as undecodable).
func olderGeneration(s, gen string) (bool, error) {
	current, err := strconv.ParseInt(gen, 10, 64)
	if err != nil {
		return false, fmt.Errorf("cache: unexpected generation %q", gen)
	}
	_, written, ok := headerStamps(s)
	return ok && written < current, nil
}

// headerStamps returns the version and the generation in the header of s,
// a stored value, as the scripts' stamps(s) reads them; ok is false for
// bytes too short for a header or of another layout.
func headerStamps(s string) (uint64, int64, bool) {
	if len(s) < headerBytes || s[0]&^flagBits != storedLayout {
		return 0, 0, false
	}
	version := bigEndian(s[1 : 1+versionBytes])
	return version, generationAt(version, bigEndian(s[1+versionBytes:headerBytes])), true
}

// generationAt returns the generation of a value of the given version
// whose header holds below, the generation's distance in milliseconds
// below the version's millisecond, plus generationBias, as the scripts'
// stamps(s) computes it. The scripts store the distance clamped to 4
// bytes, and each clamp errs only one way:
//
//   - A generation more than about 49.7 days older than the write reads as
//     that old. Its own readers still see the value, and a generation begun
//     after the write still hides it (it is newer than both); only one
//     begun between the two could see it, which takes a writer that kept
//     using its generation for 49 days after a Clear had ended it: a
//     tracked generation, or one read before each call, is dropped within
//     the invalidation delay, and a load holds its lease's generation for
//     at most LoadTimeout.
//   - A generation more than generationBias (about 17 minutes) ahead of the
//     version, which only a server clock set back that far makes, reads as
//     older than it is: a miss.
func generationAt(version, below uint64) int64 {
	return int64(version*uint64(versionTick/time.Microsecond)/1000) + generationBias - int64(below)
}

// bigEndian reads b, a stamp of a value's header, as a big-endian number.
func bigEndian(b string) uint64 {
	var n uint64
	for i := range len(b) {
		n = n<<8 | uint64(b[i])
	}
	return n
}

// parseEnvelope parses what follows the stamps, with the flags of byte 0.
func parseEnvelope(flags byte, rest []byte) (envelope, error) {
	e := envelope{absent: flags&flagAbsent != 0, exact: flags&flagHardExpiry != 0}
	var ok bool
	if e.stale, rest, ok = parseDuration(rest, flags&flagStale != 0, time.Millisecond); !ok {
		return envelope{}, errEnvelope
	}
	if e.loadTime, rest, ok = parseDuration(rest, flags&flagLoadTime != 0, time.Microsecond); !ok {
		return envelope{}, errEnvelope
	}
	e.payload = rest
	if e.absent && len(e.payload) != 0 {
		return envelope{}, errEnvelope
	}
	return e, nil
}

// parseDuration reads one of the envelope's durations off rest, if its
// flag says it is there: a uvarint count of unit, up to MaxTTL. It returns
// what follows, and false for bytes that are no such count.
func parseDuration(rest []byte, present bool, unit time.Duration) (time.Duration, []byte, bool) {
	if !present {
		return 0, rest, true
	}
	n, size := binary.Uvarint(rest)
	if size <= 0 || n > uint64(MaxTTL/unit) {
		return 0, nil, false
	}
	return time.Duration(n) * unit, rest[size:], true
}
