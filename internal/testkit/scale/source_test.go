package scale_test

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// The source of truth lives in Redis next to the cache's keys (same hash
// tag, same slot): "scale:<cache>:src{k}" holds the key's current version
// (none means 0), and "scale:<cache>:loading{k}" the loads of the key
// running now, with the source version the first of them read.
func (p *fleetProcess) sourceKey(key string) string {
	return "scale:" + p.spec.Cache + ":src{" + key + "}"
}

func (p *fleetProcess) loadingKey(key string) string {
	return "scale:" + p.spec.Cache + ":loading{" + key + "}"
}

func (p *fleetProcess) writeSource(ctx context.Context, key string, v entry) error {
	return p.redis.Do(ctx, p.redis.B().Set().Key(p.sourceKey(key)).Value(strconv.Itoa(int(v.Version))).Build()).Error()
}

// loadStart registers a load of a key and reads its source: it returns 0
// when no other load of the key runs, 1 when one that read another
// version runs, 2 when one that read the same version runs, and the
// source's version.
var loadStart = rueidis.NewLuaScript(`
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local v = redis.call('GET', KEYS[2]) or '0'
if n == 1 then
  redis.call('HSET', KEYS[1], 'v', v)
  return {0, tonumber(v)}
end
if redis.call('HGET', KEYS[1], 'v') == v then return {2, tonumber(v)} end
return {1, tonumber(v)}`)

// loadEnd ends a load registered by loadStart.
var loadEnd = rueidis.NewLuaScript(`
if redis.call('HINCRBY', KEYS[1], 'n', -1) <= 0 then redis.call('DEL', KEYS[1]) end
return 1`)

// load is the workload's loader: it reads the source's version for key
// while registered as a running load of key, for loaderDelay.
func (p *fleetProcess) load(ctx context.Context, key string) (entry, error) {
	k, _ := strconv.Atoi(key[1:])
	p.loads[k].Add(1)
	keys := []string{p.loadingKey(key), p.sourceKey(key)}
	got, err := loadStart.Exec(ctx, p.redis, keys, nil).AsIntSlice()
	if err != nil {
		return entry{}, err
	}
	defer loadEnd.Exec(context.WithoutCancel(ctx), p.redis, keys[:1], nil)
	switch v := got[1]; {
	case v > 0 && v%2 == 0:
		p.loadsAfterPut.Add(1)
	case v > 0:
		p.loadsAfterSet.Add(1)
	}
	switch got[0] {
	case 1:
		p.overlapsAfterWrite.Add(1)
	case 2:
		p.overlaps.Add(1)
	}
	time.Sleep(loaderDelay)
	return entry{Key: key, Version: int32(got[1]), Pad: padding}, nil
}
