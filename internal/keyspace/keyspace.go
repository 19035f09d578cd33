// Package keyspace builds every Redis key typecache writes, so that no two
// packages, and no two instances of one package, can ever produce the same
// key, whatever bytes users pass as keys.
//
// A key is
//
//	<package>:<instance>:<kind>{<id>}
//
// where package is fixed per package ("cache", "lock", ...), instance is the
// name or prefix a user gave the instance (checked by [CheckName]: no ':',
// '{', '}' or other separator can appear in it), kind is a short constant of
// the package (possibly empty) that tells an instance's keys apart, and id
// is the user's key with '%' and '}' percent-encoded. The braces make id the
// key's cluster hash tag: every key of one id in one instance (a value and
// its lease, a lock and its fencing counter) lives in one slot, and the slot
// of a user's key is decided by the whole key, so a '{…}' written inside a
// user's key does not change where it lives.
//
// Disjointness: the package and instance segments end at the first and
// second ':', which neither contains; the kind ends at the first '{', which
// no kind contains; and id is the rest up to the final '}'. So two keys are
// equal only when package, instance, kind and id are.
package keyspace

import (
	"errors"
	"fmt"
	"strings"
)

// Package segments. Each package that writes keys has one.
const (
	Cache       = "cache"
	Lock        = "lock"
	RateLimit   = "ratelimit"
	Session     = "session"
	Counter     = "counter"
	Leaderboard = "leaderboard"
)

// MaxNameLen bounds instance names.
const MaxNameLen = 100

// Space is one instance's part of the key space. The zero value is not
// usable; build one with New.
type Space struct {
	prefix string // "<package>:<instance>:"
}

// New returns the key space of instance name of package pkg (one of the
// package constants). name must pass CheckName.
func New(pkg, name string) (Space, error) {
	if err := CheckName(name); err != nil {
		return Space{}, err
	}
	return Space{prefix: pkg + ":" + name + ":"}, nil
}

// CheckName reports whether name can name an instance: 1 to MaxNameLen
// characters from [A-Za-z0-9._-], plus '@' as a separator of a name and a
// version. The error describes the rule without naming the option; callers
// wrap it with their package's error and the field.
func CheckName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("must be at most %d characters, got %d", MaxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("may hold only letters, digits, '.', '_', '-' and '@', got %q", name)
		}
	}
	return nil
}

func nameByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '.' || b == '_' || b == '-' || b == '@'
}

// Prefix returns the text every key of the space starts with, for
// subscriptions to its invalidations.
func (s Space) Prefix() string { return s.prefix }

// Key returns the Redis key of id under kind. kind must not contain '{'.
// An empty id gives an empty hash tag, which Redis ignores: packages that
// need an id's keys in one slot reject empty ids.
func (s Space) Key(kind, id string) string {
	if !strings.ContainsAny(id, "%}") {
		return s.prefix + kind + "{" + id + "}"
	}
	var b strings.Builder
	b.Grow(len(s.prefix) + len(kind) + len(id) + 8)
	s.writeKey(&b, kind, id)
	return b.String()
}

// Keys returns the keys of id under each of kinds, in order, as Key would:
// all of them in one string, so that they cost two allocations whatever
// their number.
func (s Space) Keys(id string, kinds ...string) []string {
	tagged := len(id) + 2 + 2*(strings.Count(id, "%")+strings.Count(id, "}")) // "{id}", escaped
	size := 0
	for _, kind := range kinds {
		size += len(s.prefix) + len(kind) + tagged
	}
	var b strings.Builder
	b.Grow(size)
	for _, kind := range kinds {
		s.writeKey(&b, kind, id)
	}
	all, keys := b.String(), make([]string, len(kinds))
	for i, kind := range kinds {
		n := len(s.prefix) + len(kind) + tagged
		keys[i], all = all[:n], all[n:]
	}
	return keys
}

// writeKey writes Key(kind, id) to b.
func (s Space) writeKey(b *strings.Builder, kind, id string) {
	b.WriteString(s.prefix)
	b.WriteString(kind)
	b.WriteByte('{')
	for i := 0; i < len(id); i++ {
		switch id[i] {
		case '%':
			b.WriteString("%25")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(id[i])
		}
	}
	b.WriteByte('}')
}

// Parse splits a key of the space into its kind and id; ok is false for a
// key that Key did not build.
func (s Space) Parse(key string) (kind, id string, ok bool) {
	rest, found := strings.CutPrefix(key, s.prefix)
	if !found || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return "", "", false
	}
	open := strings.IndexByte(rest, '{')
	if open < 0 {
		return "", "", false
	}
	kind, enc := rest[:open], rest[open+1:len(rest)-1]
	if !strings.Contains(enc, "%") {
		return kind, enc, !strings.Contains(enc, "}")
	}
	var b strings.Builder
	b.Grow(len(enc))
	for i := 0; i < len(enc); i++ {
		if enc[i] == '}' {
			return "", "", false
		}
		if enc[i] != '%' {
			b.WriteByte(enc[i])
			continue
		}
		switch {
		case strings.HasPrefix(enc[i:], "%25"):
			b.WriteByte('%')
		case strings.HasPrefix(enc[i:], "%7D"):
			b.WriteByte('}')
		default:
			return "", "", false
		}
		i += 2
	}
	return kind, b.String(), true
}

// ClusterSlots is the number of hash slots of a Redis cluster.
const ClusterSlots = 16384

// Slot returns the cluster slot of every key of id in any space: the slot
// of its encoded text, which is the keys' hash tag.
func Slot(id string) uint16 {
	var crc uint16
	for i := 0; i < len(id); i++ {
		switch id[i] {
		case '%':
			crc = crc16(crc16(crc16(crc, '%'), '2'), '5')
		case '}':
			crc = crc16(crc16(crc16(crc, '%'), '7'), 'D')
		default:
			crc = crc16(crc, id[i])
		}
	}
	return crc % ClusterSlots
}

// KeySlot returns the cluster slot of key, any Redis key: the slot of its
// hash tag (the text between its first '{' and the first '}' after it, when
// that text is not empty), else of the whole key.
func KeySlot(key string) uint16 {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc16(crc, key[i])
	}
	return crc % ClusterSlots
}

// crc16 adds b to crc, a CRC-16/XMODEM: Redis Cluster's key hash.
func crc16(crc uint16, b byte) uint16 {
	return crc<<8 ^ crcTable[byte(crc>>8)^b]
}

var crcTable = func() (table [256]uint16) {
	for i := range table {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		table[i] = crc
	}
	return table
}()
