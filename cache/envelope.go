package cache

import (
	"encoding/binary"
	"errors"
	"time"
)

// The envelope is what a Cache stores under a key, around the codec's bytes:
//
//	byte 0   envelopeMagic (format and version)
//	byte 1   flags (flagAbsent: a cached "not found", no payload;
//	         flagHardExpiry: never serve past the key's expiry, see
//	         Options.TTLFunc)
//	uvarint  stale window in milliseconds
//	uvarint  load duration Δ in microseconds (XFetch)
//	...      the codec's bytes
//
// It holds durations, never clock readings: a reader computes the soft expiry
// as the key's hard expiry (from the server's PTTL, which rueidis reads with
// the value) minus the stale window, so the clocks of the writing and the
// reading process never meet.
const (
	envelopeMagic  byte = 0xC1
	flagAbsent     byte = 1 << 0
	flagHardExpiry byte = 1 << 1
)

// errEnvelope reports bytes under a key that a Cache did not write.
var errEnvelope = errors.New("cache: bytes were not written by a typecache cache")

// envelope is a decoded header.
type envelope struct {
	absent   bool
	exact    bool          // flagHardExpiry
	stale    time.Duration // stale window
	loadTime time.Duration // Δ
	payload  []byte        // the codec's bytes, aliasing the input
}

func appendEnvelopeHeader(dst []byte, flags byte, stale, loadTime time.Duration) []byte {
	dst = append(dst, envelopeMagic, flags)
	dst = binary.AppendUvarint(dst, uint64(stale/time.Millisecond))
	return binary.AppendUvarint(dst, uint64(loadTime/time.Microsecond))
}

func parseEnvelope(data []byte) (envelope, error) {
	if len(data) < 4 || data[0] != envelopeMagic || data[1]&^(flagAbsent|flagHardExpiry) != 0 {
		return envelope{}, errEnvelope
	}
	e := envelope{absent: data[1]&flagAbsent != 0, exact: data[1]&flagHardExpiry != 0}
	rest := data[2:]
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
