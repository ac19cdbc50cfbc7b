package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// backends runs each test on the real server and on the embedded one.
// backends runs each test on the real server and on the embedded one;
// another() is a second instance's store on the same keys.
func backends(t *testing.T, f func(t *testing.T, s *redisstore.Store, another func() *redisstore.Store)) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		rdb := redistest.Client(t)
		o := redisstore.Options{Prefix: redistest.Prefix(t, rdb)}
		f(t, redisstore.New(rdb, o), func() *redisstore.Store { return redisstore.New(rdb, o) })
	})
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		rdb := redistest.Embedded(t)
		o := redisstore.Options{Prefix: "br:"}
		f(t, redisstore.New(rdb, o), func() *redisstore.Store { return redisstore.New(rdb, o) })
	})
}

const cust = bridge.CustomerID("U0123456789abcdef0123456789abcdef")

func begin(t *testing.T, s *redisstore.Store, id bridge.ChatID) bridge.Chat {
	t.Helper()
	ch, err := s.BeginChat(context.Background(), bridge.Chat{Customer: cust, ID: id, Desk: "test",
		Visitor: bridge.Visitor{CustomerID: cust, DisplayName: "太郎"}})
	if err != nil {
		t.Fatalf("BeginChat: %v", err)
	}
	return ch
}

func TestBeginChatOncePerOpenChat(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, _ func() *redisstore.Store) {
		ctx := context.Background()
		if _, err := s.Chat(ctx, cust); !errors.Is(err, bridge.ErrNoChat) {
			t.Fatalf("Chat before begin: err = %v, want ErrNoChat", err)
		}
		begin(t, s, "c1")
		got, err := s.BeginChat(ctx, bridge.Chat{Customer: cust, ID: "c2"})
		if !errors.Is(err, bridge.ErrChatOpen) || got.ID != "c1" {
			t.Fatalf("second BeginChat = %v, %v; want c1, ErrChatOpen", got.ID, err)
		}
		ch, err := s.Chat(ctx, cust)
		if err != nil || ch.Status != bridge.StatusStarting || ch.Visitor.DisplayName != "太郎" || ch.Version != 1 {
			t.Fatalf("Chat = %+v, %v", ch, err)
		}
		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", DeskSeq: -1, Status: bridge.StatusEnded}); err != nil {
			t.Fatal(err)
		}
		if ch := begin(t, s, "c2"); ch.ID != "c2" {
			t.Fatalf("new chat after end: %v", ch.ID)
		}
	})
}

func TestCommitRules(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, _ func() *redisstore.Store) {
		ctx := context.Background()
		begin(t, s, "c1")
		ev := func(id string, k bridge.Kind) bridge.Event { return bridge.Event{ID: id, Chat: "c1", Kind: k} }

		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "other", DeskSeq: -1}); !errors.Is(err, bridge.ErrStale) {
			t.Fatalf("wrong chat id: err = %v, want ErrStale", err)
		}
		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", Owner: "me", DeskSeq: -1}); !errors.Is(err, bridge.ErrFenced) {
			t.Fatalf("no lease: err = %v, want ErrFenced", err)
		}
		if ok, err := s.Acquire(ctx, cust, "me", time.Minute); err != nil || !ok {
			t.Fatalf("Acquire = %v, %v", ok, err)
		}
		ch, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", Owner: "me", DeskSeq: 0, DeskState: []byte(`{"ack":0}`),
			Status: bridge.StatusEstablished, AgentName: "Agent", Events: []bridge.Event{ev("a", bridge.KindAgentJoined), ev("b", bridge.KindAgentMessage)}})
		if err != nil || ch.Status != bridge.StatusEstablished || ch.AgentName != "Agent" || string(ch.DeskState) != `{"ack":0}` {
			t.Fatalf("commit = %+v, %v", ch, err)
		}
		// A redelivered batch (same desk sequence) changes nothing.
		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", Owner: "me", DeskSeq: 0, Events: []bridge.Event{ev("a", bridge.KindAgentJoined)}}); err != nil {
			t.Fatal(err)
		}
		// Ended once: a second end event and a status change are dropped.
		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", DeskSeq: -1, Status: bridge.StatusEnded, EndReason: bridge.EndByCustomer,
			Events: []bridge.Event{ev("e1", bridge.KindEnded)}}); err != nil {
			t.Fatal(err)
		}
		ch, err = s.Commit(ctx, cust, bridge.Commit{Chat: "c1", Owner: "me", DeskSeq: 1, Status: bridge.StatusEstablished, EndReason: bridge.EndByAgent,
			Events: []bridge.Event{ev("m2", bridge.KindAgentMessage), ev("e2", bridge.KindEnded)}})
		if err != nil || ch.Status != bridge.StatusEnded || ch.EndReason != bridge.EndByCustomer {
			t.Fatalf("after second end: %+v, %v", ch, err)
		}
		evs, err := s.Read(ctx, cust, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if want := []string{"a", "b", "e1", "m2"}; !slices.Equal(ids, want) {
			t.Fatalf("log = %v, want %v", ids, want)
		}
		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", Version: 1, DeskSeq: -1}); !errors.Is(err, bridge.ErrStale) {
			t.Fatalf("old version: err = %v, want ErrStale", err)
		}
	})
}

func TestOutboxOrderAndSequence(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, _ func() *redisstore.Store) {
		ctx := context.Background()
		if _, err := s.Enqueue(ctx, cust, "c1", bridge.Event{ID: "x", Text: "hi"}); !errors.Is(err, bridge.ErrChatClosed) {
			t.Fatalf("enqueue without chat: %v", err)
		}
		begin(t, s, "c1")
		if n, _ := s.NextSeq(ctx, cust); n != 1 {
			t.Fatalf("first seq = %d, want 1", n)
		}
		for i, text := range []string{"一", "two \"quoted\"", "三\n"} {
			o, err := s.Enqueue(ctx, cust, "c1", bridge.Event{ID: string(rune('a' + i)), Chat: "c1", Kind: bridge.KindCustomerMessage, Text: text})
			if err != nil || o.Seq != int64(i+2) || o.Text != text {
				t.Fatalf("enqueue %d = %+v, %v", i, o, err)
			}
		}
		if _, err := s.Enqueue(ctx, cust, "other", bridge.Event{ID: "x"}); !errors.Is(err, bridge.ErrStale) {
			t.Fatalf("enqueue to stale chat: %v", err)
		}
		var got []string
		o, ok, err := s.OutboxHead(ctx, cust)
		for err == nil && ok {
			// Not the head: a no-op that answers the head.
			if same, _, err := s.OutboxDone(ctx, cust, bridge.Outgoing{ID: "zzz"}); err != nil || same != o {
				t.Fatalf("OutboxDone of a non-head = %+v, %v; want %+v", same, err, o)
			}
			got = append(got, o.Text)
			o, ok, err = s.OutboxDone(ctx, cust, o)
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"一", "two \"quoted\"", "三\n"}; !slices.Equal(got, want) {
			t.Fatalf("outbox = %q, want %q", got, want)
		}
		evs, _ := s.Read(ctx, cust, "", 10)
		if len(evs) != 3 || evs[1].Text != "two \"quoted\"" {
			t.Fatalf("log = %+v", evs)
		}
	})
}

func TestCursorsAndPlans(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, _ func() *redisstore.Store) {
		ctx := context.Background()
		begin(t, s, "c1")
		for _, id := range []string{"1", "2", "3"} {
			if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", DeskSeq: -1, Events: []bridge.Event{{ID: id, Chat: "c1", Kind: bridge.KindAgentMessage}}}); err != nil {
				t.Fatal(err)
			}
		}
		evs, _ := s.Read(ctx, cust, "", 10)
		cur, err := s.Cursor(ctx, cust, "sink")
		if err != nil || cur != "" {
			t.Fatalf("fresh cursor = %q, %v", cur, err)
		}
		if ok, _ := s.Advance(ctx, cust, "sink", evs[0].Cursor, evs[1].Cursor); ok {
			t.Fatal("Advance from a wrong position succeeded")
		}
		if ok, err := s.Advance(ctx, cust, "sink", "", evs[1].Cursor); !ok || err != nil {
			t.Fatalf("Advance = %v, %v", ok, err)
		}
		if cur, _ = s.Cursor(ctx, cust, "sink"); cur != evs[1].Cursor {
			t.Fatalf("after advance: %q", cur)
		}
		rest, _ := s.Read(ctx, cust, cur, 10)
		if len(rest) != 1 || rest[0].ID != "3" {
			t.Fatalf("read after cursor = %+v", rest)
		}
		pc, pevs, err := s.Pending(ctx, cust, "sink", 10)
		if err != nil || pc != cur || len(pevs) != 1 || pevs[0].ID != "3" || pevs[0].Cursor != evs[2].Cursor {
			t.Fatalf("Pending = %q, %+v, %v", pc, pevs, err)
		}
		if _, all, _ := s.Pending(ctx, cust, "other", 2); len(all) != 2 || all[0].ID != "1" {
			t.Fatalf("Pending of a new consumer = %+v", all)
		}
		// A new chat starts the pull cursor at the end of the log.
		if _, err := s.Commit(ctx, cust, bridge.Commit{Chat: "c1", DeskSeq: -1, Status: bridge.StatusEnded}); err != nil {
			t.Fatal(err)
		}
		begin(t, s, "c2")
		pull, _ := s.Cursor(ctx, cust, "pull")
		if pull != evs[2].Cursor {
			t.Fatalf("pull cursor after new chat = %q, want %q", pull, evs[2].Cursor)
		}
		tr, _ := s.Transcript(ctx, cust, "c1")
		if len(tr) != 3 {
			t.Fatalf("transcript has %d events, want 3", len(tr))
		}
	})
}

func TestLeases(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, _ func() *redisstore.Store) {
		ctx := context.Background()
		begin(t, s, "c1") // active, adoptable after a grace period
		if ok, _ := s.Acquire(ctx, cust, "a", time.Minute); !ok {
			t.Fatal("a could not acquire a free lease")
		}
		if ok, _ := s.Acquire(ctx, cust, "b", time.Minute); ok {
			t.Fatal("b acquired a held lease")
		}
		if lost, err := s.Renew(ctx, "b", []bridge.CustomerID{cust}, time.Minute); err != nil || len(lost) != 1 {
			t.Fatalf("b renew = %v, %v; want lost", lost, err)
		}
		if lost, err := s.Renew(ctx, "a", []bridge.CustomerID{cust}, time.Minute); err != nil || len(lost) != 0 {
			t.Fatalf("a renew = %v, %v", lost, err)
		}
		if o, _ := s.Orphans(ctx, 10); len(o) != 0 {
			t.Fatalf("orphans while leased = %v", o)
		}
		if err := s.Release(ctx, cust, "b", true); err != nil { // not b's: no effect on the lease
			t.Fatal(err)
		}
		if ok, _ := s.Acquire(ctx, cust, "b", time.Minute); ok {
			t.Fatal("release by a non-owner freed the lease")
		}
		if err := s.Release(ctx, cust, "a", true); err != nil {
			t.Fatal(err)
		}
		if o, _ := s.Orphans(ctx, 10); !slices.Equal(o, []bridge.CustomerID{cust}) {
			t.Fatalf("orphans after release = %v", o)
		}
		if ok, _ := s.Acquire(ctx, cust, "b", time.Minute); !ok {
			t.Fatal("b could not adopt a released lease")
		}
		if n, _ := s.ActiveCount(ctx); n != 1 {
			t.Fatalf("active = %d", n)
		}
		if err := s.Deactivate(ctx, cust); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.ActiveCount(ctx); n != 0 {
			t.Fatalf("active after deactivate = %d", n)
		}
	})
}

func TestNotify(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, another func() *redisstore.Store) {
		// s listens; other, another instance's store, makes the changes.
		other := another()
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan bridge.CustomerID, 1)
		changes := make(chan bridge.Change, 1)
		wait, err := s.Subscribe(ctx, func(c bridge.CustomerID, what bridge.Change) { got <- c; changes <- what })
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, cust, bridge.ChangedChat); err != nil { // its own: not passed back
			t.Fatal(err)
		}
		if err := other.Publish(ctx, cust, bridge.ChangedOutbox|bridge.ChangedLog); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-got:
			if what := <-changes; c != cust || what != bridge.ChangedOutbox|bridge.ChangedLog {
				t.Fatalf("notified %q %v", c, what)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no notification")
		}
		// Enqueue notifies by itself, in the same round trip.
		begin(t, s, "c1")
		if _, err := other.Enqueue(ctx, cust, "c1", bridge.Event{ID: "m", Chat: "c1", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-got:
			if what := <-changes; c != cust || what != bridge.ChangedOutbox|bridge.ChangedLog {
				t.Fatalf("enqueue notified %q %v", c, what)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no notification from Enqueue")
		}
		cancel()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOnceAndHistory(t *testing.T) {
	backends(t, func(t *testing.T, s *redisstore.Store, _ func() *redisstore.Store) {
		ctx := context.Background()
		if ok, _ := s.Once(ctx, "evt1", time.Hour); !ok {
			t.Fatal("first Once = false")
		}
		if ok, _ := s.Once(ctx, "evt1", time.Hour); ok {
			t.Fatal("second Once = true")
		}
		for _, l := range []string{"1", "2", "3", "4"} {
			if err := s.Remember(ctx, cust, l, 3); err != nil {
				t.Fatal(err)
			}
		}
		if h, _ := s.Recall(ctx, cust); !slices.Equal(h, []string{"2", "3", "4"}) {
			t.Fatalf("history = %v", h)
		}
	})
}
