package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Slot is the Redis Cluster hash slot of key: CRC16 of the key, or of the
// part between the first '{' and the next '}' when that part is not empty.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % 16384)
}

// crc16 is CRC-16/XMODEM, as Redis Cluster uses.
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

// multiKey lists, per command, where its keys are: the index of the first
// key, and the index after the last (negative: from the end; 0: a count
// argument precedes the keys).
var multiKey = map[string][2]int{
	"eval": {3, 0}, "evalsha": {3, 0}, "eval_ro": {3, 0}, "evalsha_ro": {3, 0},
	"del": {1, -0}, "unlink": {1, -0}, "exists": {1, -0}, "mget": {1, -0}, "touch": {1, -0},
	"rename": {1, 3}, "renamenx": {1, 3}, "smove": {1, 3}, "lmove": {1, 3}, "rpoplpush": {1, 3},
	"sunionstore": {1, -0}, "sinterstore": {1, -0}, "zunionstore": {1, 2},
}

// CrossSlot records commands whose keys would span hash slots: on Redis
// Cluster they fail with CROSSSLOT. Install it on a client with AddHook and
// check Errors at the end of the test.
type CrossSlot struct {
	mu   sync.Mutex
	errs []string
}

// Watch installs a CrossSlot hook on rdb and fails t at its end if any
// command would have spanned slots.
func Watch(t testing.TB, rdb *redis.Client) {
	h := &CrossSlot{}
	rdb.AddHook(h)
	t.Cleanup(func() {
		for _, e := range h.Errors() {
			t.Errorf("not Redis Cluster safe: %s", e)
		}
	})
}

// Errors returns what was recorded.
func (h *CrossSlot) Errors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.errs...)
}

func (h *CrossSlot) check(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) == 0 {
		return
	}
	name := strings.ToLower(fmt.Sprint(args[0]))
	pos, ok := multiKey[name]
	if !ok {
		return
	}
	from, to := pos[0], len(args)
	switch {
	case pos[1] == 0 && strings.HasPrefix(name, "eval"):
		n, _ := strconv.Atoi(fmt.Sprint(args[2]))
		to = 3 + n
	case pos[1] > 0:
		to = pos[1]
	}
	if to > len(args) {
		to = len(args)
	}
	slot := -1
	for _, a := range args[from:to] {
		k := fmt.Sprint(a)
		if s := Slot(k); slot == -1 {
			slot = s
		} else if s != slot {
			h.mu.Lock()
			h.errs = append(h.errs, fmt.Sprintf("%s over keys in slots %d and %d (%v)", name, slot, s, args[from:to]))
			h.mu.Unlock()
			return
		}
	}
}

// DialHook implements redis.Hook.
func (h *CrossSlot) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *CrossSlot) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *CrossSlot) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.check(c)
		}
		return next(ctx, cmds)
	}
}
