package counter

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// script is a Lua script that can also be run many times in one pipeline.
type script struct {
	*rueidis.Lua
	src, sha string
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{Lua: rueidis.NewLuaScript(src), src: src, sha: hex.EncodeToString(sum[:])}
}

// execAll runs s once per exec in one DoMulti (one round trip per node),
// with EVALSHA, then once more with EVAL for the runs whose node did not
// know the script. rueidis's own ExecMulti would first load the script on
// every node, a round trip more per call.
func execAll(ctx context.Context, redis rueidis.Client, s script, execs []rueidis.LuaExec) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(execs))
	for i, e := range execs {
		cmds[i] = redis.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build()
	}
	results := redis.DoMulti(ctx, cmds...)
	var missing []int
	for i, r := range results {
		if re, ok := rueidis.IsRedisErr(r.Error()); ok && re.IsNoScript() {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return results
	}
	cmds = cmds[:0]
	for _, i := range missing {
		e := execs[i]
		cmds = append(cmds, redis.B().Eval().Script(s.src).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build())
	}
	for j, r := range redis.DoMulti(ctx, cmds...) {
		results[missing[j]] = r
	}
	return results
}
