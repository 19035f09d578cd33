package lock

import (
	"strconv"
	"strings"
)

// clusterSlots is the number of hash slots of a Redis cluster.
const clusterSlots = 16384

// NameFor returns a lock name whose keys live in the same cluster slot as
// key and that differs for every key, so that one script can touch both the
// lock and key (see [Lock.SetAndRelease]).
//
// Redis hashes a key's hash tag (the text between its first '{' and the
// next '}', if not empty) or else the whole key, and a Locker keeps name's
// keys under "Prefix:{name}", whose tag is name up to its first '}'. So:
//
//   - a key without '}', such as "user:42", is its own name: "lock:{user:42}";
//   - a key with a hash tag, such as "{user:42}:profile", gets the tag, a '}'
//     and then the key: "user:42}{user:42}:profile";
//   - any other key containing '}' (say "a}b") gets a short decimal tag chosen
//     to hash to the key's slot, a '}' and the key.
func NameFor(key string) string {
	if !strings.Contains(key, "}") {
		return key
	}
	if tag, ok := hashTag(key); ok {
		return tag + "}" + key
	}
	return slotTag(hashSlot(key)) + "}" + key
}

// hashTag returns the text between key's first '{' and the next '}', if that
// text is not empty.
func hashTag(key string) (string, bool) {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return "", false
	}
	length := strings.IndexByte(key[open+1:], '}')
	if length <= 0 {
		return "", false
	}
	return key[open+1 : open+1+length], true
}

// hashSlot is the cluster slot of key, as Redis computes it.
func hashSlot(key string) uint16 {
	if tag, ok := hashTag(key); ok {
		key = tag
	}
	return crc16(key) % clusterSlots
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), Redis
// Cluster's key hash.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotTag returns the smallest decimal number whose text hashes to slot; the
// tests check that one exists for every slot.
func slotTag(slot uint16) string {
	for i := 0; ; i++ {
		if tag := strconv.Itoa(i); crc16(tag)%clusterSlots == slot {
			return tag
		}
	}
}
