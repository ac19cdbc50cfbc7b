package line_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/line"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// outageBridge fails its first chat lookups, as during a Redis restart.
type outageBridge struct {
	fuzzBridge
	failures atomic.Int32
	sends    atomic.Int32
}

func (b *outageBridge) Chat(_ context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	if b.failures.Add(-1) >= 0 {
		return bridge.Chat{}, errors.New("redis: connection refused")
	}
	return bridge.Chat{Customer: c, ID: "c1", Status: bridge.StatusEstablished}, nil
}

func (b *outageBridge) Send(context.Context, bridge.CustomerID, bridge.Event) error {
	b.sends.Add(1)
	return nil
}

// A message acknowledged (200) while the store is down is relayed once the
// store is back, not dropped (found by the soak: scripts/soak).
func TestWebhookStoreOutageKeepsMessage(t *testing.T) {
	b := &outageBridge{}
	b.failures.Store(2)
	w, err := line.NewWebhook(line.Config{ChannelSecret: fuzzSecret}, b, fuzzStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, linesim.SignedRequest(fuzzSecret, "http://x/line/webhook", linesim.Text("U0123456789abcdef0123456789abcdef", "hello")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil { // waits for the queued event
		t.Fatal(err)
	}
	if rec.Code != 200 || b.sends.Load() != 1 {
		t.Fatalf("status %d, Send called %d times; want 200 and 1", rec.Code, b.sends.Load())
	}
}
