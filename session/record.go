package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Redis layout (see doc.go for why):
//
//	session:<prefix>:s{<route>}   hash: every session of one user under
//	                              one route key (route = HMAC of the user
//	                              ID, see routekey.go) or one anonymous
//	                              session and its successors (route random)
//	  <id>      meta: "<v> <c> <a> <s> <mac> <user>": version, created,
//	            absolute deadline, last extension (Unix ms), HMAC or "-",
//	            user ID (last: it may hold spaces)
//	  <id>d     the codec's bytes
//	  <id>      or a forward: "> <successor id> <until>", left by
//	            Regenerate so that destroying the old token also ends the
//	            new one for a while (until, Unix ms)
//
// id is base64url(SHA-256(secret)), 43 characters; no token is ever sent
// to Redis. The key's TTL is the latest deadline of its sessions. The
// route key, when Redis keeps it, is session:<prefix>:k{} (routekey.go).
const groupKind = "s"

// dataSuffix names a session's data field: <id>d.
const dataSuffix = "d"

// record is one session as its meta field and data field hold it, times in
// Unix ms.
type record struct {
	user                    string
	data                    []byte
	version                 int64
	created, absolute, seen int64
	mac                     string // "-" when the store has no IntegrityKeys
}

// errMalformed reports a meta field that the scripts never write.
var errMalformed = errors.New("malformed record")

// parseMeta decodes a meta field "<v> <c> <a> <s> <mac> <user>". Anything
// the scripts do not write makes it fail, never panic.
func parseMeta(meta string) (record, error) {
	var rec record
	var nums [4]int64
	rest := meta
	for i := range nums {
		field, tail, ok := strings.Cut(rest, " ")
		if !ok {
			return record{}, errMalformed
		}
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil || n < 0 {
			return record{}, errMalformed
		}
		nums[i], rest = n, tail
	}
	mac, user, ok := strings.Cut(rest, " ")
	if !ok || mac == "" {
		return record{}, errMalformed
	}
	rec.version, rec.created, rec.absolute, rec.seen = nums[0], nums[1], nums[2], nums[3]
	rec.mac, rec.user = mac, user
	if rec.version < 1 || rec.created > rec.absolute {
		return record{}, errMalformed
	}
	return rec, nil
}

// macInput is the text an integrity key signs: every field the store
// writes, length-prefixed so that no two records give the same input. The
// last extension is left out: the scripts move it with Redis's clock.
func macInput(id string, rec *record) []byte {
	b := make([]byte, 0, 64+len(id)+len(rec.user)+len(rec.data))
	b = append(b, "typecache/session/v1"...)
	for _, field := range [][]byte{[]byte(id), []byte(rec.user), rec.data} {
		b = binary.AppendUvarint(b, uint64(len(field)))
		b = append(b, field...)
	}
	for _, n := range []int64{rec.created, rec.absolute, rec.version} {
		b = binary.AppendVarint(b, n)
	}
	return b
}

func macWith(key []byte, input []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(input)
	var sum [sha256.Size]byte
	return tokenEncoding.EncodeToString(h.Sum(sum[:0]))
}

// sign returns the mac field for rec as session id: the HMAC under the
// first integrity key, or "-" when there is none.
func (s *Store[T]) sign(id string, rec *record) string {
	if len(s.o.IntegrityKeys) == 0 {
		return "-"
	}
	return macWith(s.o.IntegrityKeys[0], macInput(id, rec))
}

// verify checks rec's mac when the store has integrity keys.
func (s *Store[T]) verify(id string, rec *record) error {
	if len(s.o.IntegrityKeys) == 0 {
		return nil
	}
	input := macInput(id, rec)
	for _, key := range s.o.IntegrityKeys {
		if hmac.Equal([]byte(macWith(key, input)), []byte(rec.mac)) {
			return nil
		}
	}
	return ErrTampered
}

// checkedRecord parses the meta and data fields of session id read from
// key and verifies them; every failure wraps ErrNotFound.
func (s *Store[T]) checkedRecord(key, id, meta string, data []byte) (record, error) {
	rec, err := parseMeta(meta)
	if err != nil {
		return record{}, fmt.Errorf("%w: record %s: %w", ErrNotFound, key, err)
	}
	rec.data = data
	if err := s.verify(id, &rec); err != nil {
		return record{}, fmt.Errorf("%w: record %s: %w", ErrNotFound, key, err)
	}
	return rec, nil
}
