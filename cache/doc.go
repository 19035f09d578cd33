// Package cache is typecache's typed cache: values of type T in Redis or
// Valkey, in front of them a local tier of decoded values kept coherent by
// server-assisted client-side caching, and loaders for cache-aside.
//
//	users, err := cache.New[User](client, "user", cache.Options[User]{TTL: time.Hour})
//	u, err := users.Fetch(ctx, id, cache.LoaderFunc[User](loadUser))
//
// See docs/cache.md for the guide.
package cache
