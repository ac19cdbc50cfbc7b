package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// benchStore returns a store on the test Redis with one open chat per
// customer in cs, its lease held by "me".
func benchStore(b *testing.B, n int) (*redisstore.Store, []bridge.CustomerID) {
	b.Helper()
	rdb := redistest.Client(b)
	s := redisstore.New(rdb, redisstore.Options{Prefix: redistest.Prefix(b, rdb)})
	ctx := context.Background()
	cs := make([]bridge.CustomerID, n)
	for i := range cs {
		cs[i] = bridge.CustomerID(fmt.Sprintf("U%032d", i))
		if _, err := s.BeginChat(ctx, bridge.Chat{Customer: cs[i], ID: "c1", Desk: "bench",
			Visitor: bridge.Visitor{CustomerID: cs[i], DisplayName: "太郎"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Acquire(ctx, cs[i], "me", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return s, cs
}

// BenchmarkCommit stores one desk batch of one agent text (what every
// relayed message costs the store): the commit script and the chat reload.
func BenchmarkCommit(b *testing.B) {
	s, cs := benchStore(b, 64)
	ctx := context.Background()
	state := []byte(`{"id":"i","key":"k!1!s","affinity":"a","poll_timeout_ms":40000,"ack":1,"offset":9}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := cs[i%len(cs)]
		i++
		_, err := s.Commit(ctx, c, bridge.Commit{Chat: "c1", Owner: "me", DeskSeq: int64(i), DeskState: state,
			Events: []bridge.Event{{ID: fmt.Sprintf("c1.%d.0", i), Chat: "c1", Kind: bridge.KindAgentMessage, Time: time.Now(), Text: "ご注文の商品は本日発送いたしました", AgentName: "Agent"}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnqueue stores one customer message for the agent (what every
// /send costs the store).
func BenchmarkEnqueue(b *testing.B) {
	s, cs := benchStore(b, 64)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := cs[i%len(cs)]
		i++
		if _, err := s.Enqueue(ctx, c, "c1", bridge.Event{ID: fmt.Sprintf("c1.c%d", i), Chat: "c1", Kind: bridge.KindCustomerMessage, Time: time.Now(), Text: "注文番号は 42 です", Source: "api"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChat reads the chat record (done several times per relayed
// message today).
func BenchmarkChat(b *testing.B) {
	s, cs := benchStore(b, 64)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Chat(ctx, cs[i%len(cs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRead reads the log after a cursor (each sink drain does it).
func BenchmarkRead(b *testing.B) {
	s, cs := benchStore(b, 1)
	ctx := context.Background()
	for i := range 32 {
		if _, err := s.Enqueue(ctx, cs[0], "c1", bridge.Event{ID: fmt.Sprintf("c1.c%d", i), Chat: "c1", Kind: bridge.KindCustomerMessage, Text: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(ctx, cs[0], "", 64); err != nil {
			b.Fatal(err)
		}
	}
}
