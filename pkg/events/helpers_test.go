package events

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// testSecret is a Standard Webhooks secret (32 bytes).
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// testRedis connects to REDIS_TEST_URL (default redis://127.0.0.1:6379/15).
// Tests share the database with other packages' tests, so each test uses
// its own key prefix and deletes its keys afterwards.
func testRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	u := os.Getenv("REDIS_TEST_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/15"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("REDIS_TEST_URL %q: %v", u, err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("these tests need a real Redis at %s (set REDIS_TEST_URL, or start one: redis-server --port 6379): %v", u, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testPrefix is a key prefix of the test's own; its keys go at cleanup.
func testPrefix(t *testing.T, rdb redis.UniversalClient) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "whtest-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "{"+p+"}:*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return p
}

// fastConfig is a config with a millisecond schedule for tests.
func fastConfig(prefix string, eps ...Endpoint) Config {
	for i := range eps {
		if eps[i].Timeout == 0 {
			eps[i].Timeout = 2 * time.Second
		}
		eps[i].Enabled = true
	}
	return Config{
		Endpoints: eps, KeyPrefix: prefix,
		Schedule:     []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		Workers:      4,
		Lease:        5 * time.Second,
		PollInterval: 20 * time.Millisecond,
		LogSize:      500,
	}
}

// startDispatcher builds a dispatcher and runs it until the test ends.
func startDispatcher(t *testing.T, rdb redis.UniversalClient, cfg Config) *Dispatcher {
	t.Helper()
	d := newDispatcher(t, rdb, cfg)
	run(t, d)
	return d
}

func newDispatcher(t *testing.T, rdb redis.UniversalClient, cfg Config) *Dispatcher {
	t.Helper()
	d, err := New(rdb, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func run(t *testing.T, d *Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
	Status int
}

// receiver is an httptest server that records requests and answers with
// what respond returns for the n-th request (0-based).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []received
	respond func(n int, w http.ResponseWriter, r *http.Request) int
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	rc := &receiver{respond: respond}
	if rc.respond == nil {
		rc.respond = func(int, http.ResponseWriter, *http.Request) int { return http.StatusOK }
	}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, received{Header: r.Header.Clone(), Body: body, At: time.Now()})
		rc.mu.Unlock()
		status := rc.respond(n, w, r)
		rc.mu.Lock()
		rc.reqs[n].Status = status
		rc.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "status %d", status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// chatDelivery is a delivery of n customer messages of one chat, numbered
// from first.
func chatDelivery(customer, chat string, first, n int) bridge.Delivery {
	d := bridge.Delivery{
		Customer: bridge.CustomerID(customer),
		Chat: bridge.Chat{
			Customer: bridge.CustomerID(customer), ID: bridge.ChatID(chat), Status: bridge.StatusEstablished,
			Desk: "liveagent", Visitor: bridge.Visitor{CustomerID: bridge.CustomerID(customer), DisplayName: "Taro"},
			AgentName: "Hanako", CreatedAt: time.Now().Add(-time.Minute), EstablishAt: time.Now().Add(-time.Minute),
		},
	}
	for i := first; i < first+n; i++ {
		d.Events = append(d.Events, bridge.Event{
			ID: fmt.Sprintf("%s-%d", chat, i), Chat: bridge.ChatID(chat), Kind: bridge.KindCustomerMessage,
			Time: time.Now(), Text: fmt.Sprintf("message %d", i), Source: "line",
		})
	}
	return d
}
