package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis is a redis-server this process started, on a fixed port and data
// directory, so it can be stopped and started again on the same data.
type Redis struct {
	Port        int
	Dir         string
	Persistence bool // appendonly yes, appendfsync everysec
	child       *Child
	starts      int
}

// SpawnRedis starts redis-server on a free port with its data in dir.
func SpawnRedis(ctx context.Context, dir string, persistence bool) (*Redis, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Redis{Port: port, Dir: dir, Persistence: persistence}
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.Port) }

// Pid is the server's process id (0 when stopped).
func (r *Redis) Pid() int {
	if r.child == nil || r.child.Exited() {
		return 0
	}
	return r.child.Pid()
}

// Start starts the server (again) and waits until it answers PING.
func (r *Redis) Start(ctx context.Context) error {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.Dir, "--daemonize", "no", "--save", ""}
	if r.Persistence {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	} else {
		args = append(args, "--appendonly", "no")
	}
	r.starts++
	c, err := StartChild(fmt.Sprintf("redis#%d", r.starts), "redis-server", args, nil, filepath.Join(r.Dir, "redis.log"))
	if err != nil {
		return err
	}
	r.child = c
	rdb := NewClient(r.URL())
	defer rdb.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			// With AOF on, wait until the data set is loaded.
			info, _ := rdb.Info(ctx, "persistence").Result()
			if !strings.Contains(info, "loading:1") {
				return nil
			}
		}
		if c.Exited() || time.Now().After(deadline) || ctx.Err() != nil {
			c.Kill()
			return fmt.Errorf("redis-server on port %d did not start: %v\n%s", r.Port, err, c.Tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server with SIGTERM (it writes its AOF and exits) and
// waits up to 20 s, then SIGKILLs it.
func (r *Redis) Stop() {
	if r.child == nil {
		return
	}
	r.child.Signal(syscall.SIGTERM)
	select {
	case <-r.child.Done():
	case <-time.After(20 * time.Second):
		r.child.Kill()
	}
}

// Kill SIGKILLs the server.
func (r *Redis) Kill() {
	if r.child != nil {
		r.child.Kill()
	}
}

// NewClient returns a go-redis client of url with the bridge's settings.
func NewClient(url string) *redis.Client {
	opt, err := redis.ParseURL(url)
	if err != nil {
		panic(err)
	}
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	return redis.NewClient(opt)
}

// RedisCPU returns Redis's own used_cpu_user + used_cpu_sys (INFO cpu).
func RedisCPU(ctx context.Context, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for l := range strings.SplitSeq(info, "\n") {
		l = strings.TrimSpace(l)
		for _, k := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(l, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// RedisVersion returns the server's redis_version.
func RedisVersion(ctx context.Context, rdb *redis.Client) string {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "?"
	}
	for l := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return v
		}
	}
	return "?"
}

// DeletePrefix removes every key starting with prefix.
func DeletePrefix(ctx context.Context, rdb *redis.Client, prefix string) (int, error) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) >= 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
