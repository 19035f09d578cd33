package cache

import "context"

// A Loader loads the value of a key from the source of truth when the cache
// misses. Load returns ErrNotFound (or an error wrapping it) when the key does
// not exist; the cache then remembers the absence for Options.NegativeTTL.
// Any other error is returned to the callers and never cached.
//
// Load runs once per key at a time in a process, under a context that is not
// cancelled when the caller that started it gives up (it ends after
// Options.LoadTimeout); it must be safe to call from several goroutines for
// different keys.
type Loader[T any] interface {
	Load(ctx context.Context, key string) (T, error)
}

// LoaderFunc adapts a function to a [Loader].
type LoaderFunc[T any] func(ctx context.Context, key string) (T, error)

// Load calls f(ctx, key).
func (f LoaderFunc[T]) Load(ctx context.Context, key string) (T, error) { return f(ctx, key) }

// A BatchLoader loads the values of many keys in one call, for FetchMany.
// Keys absent from the returned map are absent from the source of truth and
// are cached as absent; extra keys in the map are ignored. An error fails the
// whole batch and is never cached.
type BatchLoader[T any] interface {
	LoadMany(ctx context.Context, keys []string) (map[string]T, error)
}

// BatchLoaderFunc adapts a function to a [BatchLoader].
type BatchLoaderFunc[T any] func(ctx context.Context, keys []string) (map[string]T, error)

// LoadMany calls f(ctx, keys).
func (f BatchLoaderFunc[T]) LoadMany(ctx context.Context, keys []string) (map[string]T, error) {
	return f(ctx, keys)
}

// A Writer writes a value to the source of truth, for Put (write-through).
type Writer[T any] interface {
	Write(ctx context.Context, key string, v T) error
}

// WriterFunc adapts a function to a [Writer].
type WriterFunc[T any] func(ctx context.Context, key string, v T) error

// Write calls f(ctx, key, v).
func (f WriterFunc[T]) Write(ctx context.Context, key string, v T) error { return f(ctx, key, v) }

// isNil reports a nil interface or a nil function in a Func adapter, both
// of which would panic when called.
func isNil[T any](v any) bool {
	switch f := v.(type) {
	case nil:
		return true
	case LoaderFunc[T]:
		return f == nil
	case BatchLoaderFunc[T]:
		return f == nil
	case WriterFunc[T]:
		return f == nil
	}
	return false
}
