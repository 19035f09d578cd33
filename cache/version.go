package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
)

// ShapeVersion returns a version for Options.Version derived from the shape
// of T: its kind and, recursively, the kinds of what it holds, with the
// names, tags and shapes of the exported fields of every struct, in order.
// A field added, removed, renamed, retagged or retyped changes it, so a
// deploy that changes T cannot forget to change the version; a change that
// does not touch T (a new loader, a method) keeps it, and so the cache.
// The names of T and of its field types do not count, except for types
// that encode themselves (a method MarshalJSON, MarshalText, MarshalBinary,
// MarshalMsgpack or EncodeMsgpack, time.Time among them), which count by
// package path and name since their fields say nothing of their encoding.
//
// It is opt-in: a change of meaning that keeps the shape (a price in cents
// instead of euros) still needs a version of your own, which can be
// combined with it: Version: "cents." + cache.ShapeVersion[Price]().
// The result is "s" and 12 hexadecimal digits, the same in every build
// and process for the same shape.
func ShapeVersion[T any]() string {
	var b strings.Builder
	writeShape(&b, reflect.TypeFor[T](), map[reflect.Type]int{})
	sum := sha256.Sum256([]byte(b.String()))
	return "s" + hex.EncodeToString(sum[:6])
}

// selfEncoding lists the methods by which a type takes over its own
// encoding in the codecs typecache ships (JSON, MessagePack) and in
// encoding's interfaces.
var selfEncoding = []string{"MarshalJSON", "MarshalText", "MarshalBinary", "MarshalMsgpack", "EncodeMsgpack"}

// writeShape writes a description of t to b. seen numbers the structs
// being described, so that a recursive type refers back instead of
// recursing for ever.
func writeShape(b *strings.Builder, t reflect.Type, seen map[reflect.Type]int) {
	for _, m := range selfEncoding {
		_, byValue := t.MethodByName(m)
		_, byPointer := reflect.PointerTo(t).MethodByName(m)
		if byValue || byPointer {
			b.WriteString("named(" + t.PkgPath() + "." + t.Name() + ")")
			return
		}
	}
	b.WriteString(t.Kind().String())
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		b.WriteByte('(')
		writeShape(b, t.Elem(), seen)
		b.WriteByte(')')
	case reflect.Array:
		b.WriteString("(" + strconv.Itoa(t.Len()) + ",")
		writeShape(b, t.Elem(), seen)
		b.WriteByte(')')
	case reflect.Map:
		b.WriteByte('(')
		writeShape(b, t.Key(), seen)
		b.WriteByte(',')
		writeShape(b, t.Elem(), seen)
		b.WriteByte(')')
	case reflect.Struct:
		if n, ok := seen[t]; ok {
			b.WriteString("(^" + strconv.Itoa(n) + ")")
			return
		}
		seen[t] = len(seen)
		b.WriteByte('{')
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			b.WriteString(strconv.Quote(f.Name) + " " + strconv.Quote(string(f.Tag)) + " ")
			if f.Anonymous {
				b.WriteString("embedded ")
			}
			writeShape(b, f.Type, seen)
			b.WriteByte(';')
		}
		b.WriteByte('}')
	}
}
