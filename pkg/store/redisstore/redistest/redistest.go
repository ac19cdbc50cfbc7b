// Package redistest connects tests to the real Redis server that
// scripts/test.sh provides (REDIS_TEST_URL, default redis://127.0.0.1:6379),
// and hands out unique key prefixes so tests can share it in parallel.
package redistest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// URL is the test server's address.
func URL() string {
	if u := os.Getenv("REDIS_TEST_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}

// Client returns a client of the real test server, closed when t ends. It
// fails the test (it does not skip) when the server does not answer: the
// test command starts one. The test also fails if any command would span
// Redis Cluster hash slots (see Watch).
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("REDIS_TEST_URL: %v", err)
	}
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Fatalf("no Redis at %s (run the tests with scripts/test.sh, which starts one): %v", URL(), err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	Watch(t, rdb) // every test also proves the store is Redis Cluster safe
	return rdb
}

// Embedded returns a client of a fresh in-process miniredis, the store the
// bridge uses when REDIS_URL is unset.
func Embedded(t testing.TB) *redis.Client {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{
		Addr:                     m.Addr(),
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

var seq atomic.Int64

// Prefix returns a key prefix no other test uses, and removes its keys
// when t ends.
func Prefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	p := fmt.Sprintf("test:%s:%d:%d:", name, time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, p+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for _, k := range keys {
			rdb.Del(ctx, k)
		}
	})
	return p
}
