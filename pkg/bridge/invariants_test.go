package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/bridge/bridgetest"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
)

func visitor(name string) bridge.Visitor {
	return bridge.Visitor{CustomerID: bridge.CustomerID("U" + fmt.Sprintf("%032x", []byte(name))[:32]), DisplayName: name}
}

func open(t *testing.T, in *instance, v bridge.Visitor) bridge.Chat {
	t.Helper()
	ch, created, err := in.b.Open(context.Background(), v)
	if err != nil || !created {
		t.Fatalf("Open = %v, %v", created, err)
	}
	return ch
}

func send(t *testing.T, in *instance, c bridge.CustomerID, text string) {
	t.Helper()
	if err := in.b.Send(context.Background(), c, bridge.Event{Kind: bridge.KindCustomerMessage, Text: text}); err != nil {
		t.Fatalf("Send(%q): %v", text, err)
	}
}

// pull drains the pull cursor (what /messages serves) until pred holds.
func pull(t *testing.T, in *instance, c bridge.CustomerID, pred func([]bridge.Event) bool) []bridge.Event {
	t.Helper()
	var got []bridge.Event
	deadline := time.Now().Add(15 * time.Second)
	for !pred(got) {
		if time.Now().After(deadline) {
			t.Fatalf("pull: timed out; have %s", bridgetest.Kinds(got))
		}
		ev, ok, err := in.b.Next(context.Background(), c, time.Second, func(e bridge.Event) bool { return e.FromDesk() })
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, ev)
		}
	}
	return got
}

func agentTexts(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i+1)
	}
	return out
}

// Invariant 1 and 2: every event of a batch is kept, in order, once — for
// the pull consumer and for a sink that fails now and then.
func TestEveryEventOfABatchInOrderOnce(t *testing.T) {
	e := newEnv(t, lasim.Options{HoldTime: 2 * time.Second})
	in := e.start("a")
	in.sink.FailNext(2)
	v := visitor("batch")
	open(t, in, v)
	sc := e.simChat("batch")
	if err := e.sim.Accept(sc.ID); err != nil {
		t.Fatal(err)
	}
	want := agentTexts(12, "agent says")
	for _, text := range want { // all queued at once: one Messages batch
		if err := e.sim.AgentSend(sc.ID, text); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sim.End(sc.ID); err != nil {
		t.Fatal(err)
	}
	isDone := func(evs []bridge.Event) bool { return len(evs) > 0 && evs[len(evs)-1].Kind == bridge.KindEnded }
	got := pull(t, in, v.CustomerID, isDone)
	if g := bridgetest.Texts(got, bridge.KindAgentMessage); !slices.Equal(g, want) {
		t.Fatalf("pulled texts = %q, want %q", g, want)
	}
	wantKinds := []bridge.Kind{bridge.KindRequested, bridge.KindAgentJoined}
	for i, k := range wantKinds {
		if got[i].Kind != k {
			t.Fatalf("pulled %s, want it to start with %v", bridgetest.Kinds(got), wantKinds)
		}
	}
	sunk := in.sink.WaitFor(t, v.CustomerID, "the end", isDone)
	if g := bridgetest.Texts(sunk, bridge.KindAgentMessage); !slices.Equal(g, want) {
		t.Fatalf("sink texts = %q, want %q", g, want)
	}
	ids := map[string]bool{}
	for _, ev := range sunk {
		if ids[ev.ID] {
			t.Fatalf("event %s delivered twice", ev.ID)
		}
		ids[ev.ID] = true
	}
	ch, _ := in.b.Chat(context.Background(), v.CustomerID)
	if ch.Status != bridge.StatusEnded || ch.EndReason != bridge.EndByAgent || ch.AgentName != "Agent Smith" {
		t.Fatalf("chat = %+v", ch)
	}
}

// Invariant 5: messages sent before the agent accepts are held, then sent
// in order once the chat is established; Live Agent never answers 500.
func TestMessagesBeforeAcceptAreHeldInOrder(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	in := e.start("a")
	v := visitor("early")
	open(t, in, v)
	sc := e.simChat("early")
	want := []string{"こんにちは", "order #123", "まだですか？"}
	for _, text := range want {
		send(t, in, v.CustomerID, text)
	}
	// Nothing reaches the agent while queued.
	if got := visitorTexts(e.waitSim(sc.ID, "a few polls", func(c lasim.ChatView) bool { return c.Counters.Polls >= 2 })); len(got) != 0 {
		t.Fatalf("agent saw %q before accepting", got)
	}
	if err := e.sim.Accept(sc.ID); err != nil {
		t.Fatal(err)
	}
	send(t, in, v.CustomerID, "after accept")
	want = append(want, "after accept")
	got := e.waitSim(sc.ID, "all visitor messages", func(c lasim.ChatView) bool { return len(visitorTexts(c)) >= len(want) })
	if g := visitorTexts(got); !slices.Equal(g, want) {
		t.Fatalf("agent saw %q, want %q", g, want)
	}
	if got.Counters.Errors500 != 0 || got.Counters.DuplicatePosts != 0 {
		t.Fatalf("counters = %+v", got.Counters)
	}
}

// Invariant 4: the bridge polls whether or not anyone calls Next.
func TestChatOutlivesItsCallers(t *testing.T) {
	e := newEnv(t, lasim.Options{ClientPollTimeout: time.Second, HoldTime: 200 * time.Millisecond})
	in := e.start("a")
	v := visitor("idle")
	open(t, in, v)
	sc := e.simChat("idle")
	if err := e.sim.Accept(sc.ID); err != nil {
		t.Fatal(err)
	}
	// Wait well past clientPollTimeout with nobody pulling, counting polls.
	before := e.simChat("idle").Counters.Polls
	e.waitSim(sc.ID, "polls for 3×clientPollTimeout", func(c lasim.ChatView) bool { return c.Counters.Polls >= before+15 })
	if err := e.sim.AgentSend(sc.ID, "still there?"); err != nil {
		t.Fatalf("agent send after idle period: %v", err)
	}
	got := pull(t, in, v.CustomerID, func(evs []bridge.Event) bool { return len(bridgetest.Texts(evs, bridge.KindAgentMessage)) == 1 })
	if bridgetest.Texts(got, bridge.KindAgentMessage)[0] != "still there?" {
		t.Fatalf("got %s", bridgetest.Kinds(got))
	}
	if st := e.simChat("idle").State; st != lasim.StateEstablished {
		t.Fatalf("simulator chat state = %s", st)
	}
}

// Invariant 6: each way a chat can end ends it on both sides, once.
func TestEndsAreEnds(t *testing.T) {
	cases := []struct {
		name   string
		end    func(e *env, in *instance, c bridge.CustomerID, simID string)
		reason bridge.EndReason
		simBy  string
	}{
		{"customer", func(e *env, in *instance, c bridge.CustomerID, _ string) {
			if err := in.b.Close(context.Background(), c, bridge.EndByCustomer); err != nil {
				t.Fatal(err)
			}
		}, bridge.EndByCustomer, "visitor"},
		{"agent", func(e *env, _ *instance, _ bridge.CustomerID, id string) { _ = e.sim.End(id) }, bridge.EndByAgent, "agent"},
		{"request failed", func(e *env, _ *instance, _ bridge.CustomerID, id string) { _ = e.sim.Fail(id, "Unavailable") }, bridge.EndRequestFail, "agent"},
		{"expired", func(e *env, _ *instance, _ bridge.CustomerID, id string) { _ = e.sim.Expire(id) }, bridge.EndExpired, "system"},
		{"duplicate poll", func(e *env, _ *instance, _ bridge.CustomerID, id string) {
			_ = e.sim.InjectFault(lasim.Fault{Kind: "messages", Status: 409, ChatID: id})
		}, bridge.EndDeskError, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, lasim.Options{})
			in := e.start("a")
			v := visitor("end-" + tc.name)
			open(t, in, v)
			sc := e.simChat(v.DisplayName)
			if tc.name != "request failed" {
				_ = e.sim.Accept(sc.ID)
				in.sink.WaitFor(t, v.CustomerID, "agent joined", bridgetest.HasKind(bridge.KindAgentJoined))
			}
			tc.end(e, in, v.CustomerID, sc.ID)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for {
				ch, err := in.b.Chat(ctx, v.CustomerID)
				if err != nil {
					t.Fatal(err)
				}
				if ch.Status == bridge.StatusEnded {
					if ch.EndReason != tc.reason {
						t.Fatalf("end reason = %s, want %s", ch.EndReason, tc.reason)
					}
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("chat not ended: %+v", ch)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tc.simBy != "" {
				got := e.waitSim(sc.ID, "ended", func(c lasim.ChatView) bool { return c.State == lasim.StateEnded || c.State == lasim.StateExpired })
				if got.EndedBy != tc.simBy {
					t.Fatalf("simulator: ended by %q, want %q", got.EndedBy, tc.simBy)
				}
			}
			// Once: exactly one ending event reaches consumers, and the
			// customer is let go (no lease, not active).
			if tc.reason != bridge.EndByCustomer {
				evs := in.sink.WaitFor(t, v.CustomerID, "end event", func(evs []bridge.Event) bool {
					return slices.ContainsFunc(evs, bridge.Event.Ends)
				})
				if n := len(slices.DeleteFunc(slices.Clone(evs), func(e bridge.Event) bool { return !e.Ends() })); n != 1 {
					t.Fatalf("%d ending events: %s", n, bridgetest.Kinds(evs))
				}
			}
			waitUntil(t, "customer released", func() bool { return in.b.Owned() == 0 })
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// 503 → ReconnectSession → polling resumes with nothing lost.
func TestAffinityChangeLosesNothing(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	in := e.start("a")
	v := visitor("affinity")
	open(t, in, v)
	sc := e.simChat("affinity")
	_ = e.sim.Accept(sc.ID)
	in.sink.WaitFor(t, v.CustomerID, "agent joined", bridgetest.HasKind(bridge.KindAgentJoined))
	if err := e.sim.InjectFault(lasim.Fault{Kind: "messages", Status: 503, ChatID: sc.ID}); err != nil {
		t.Fatal(err)
	}
	_ = e.sim.AgentSend(sc.ID, "before")
	got := e.waitSim(sc.ID, "a reconnect", func(c lasim.ChatView) bool { return c.Counters.Reconnects >= 1 })
	_ = e.sim.AgentSend(sc.ID, "after")
	send(t, in, v.CustomerID, "visitor after reconnect")
	evs := in.sink.WaitFor(t, v.CustomerID, "both texts", func(evs []bridge.Event) bool { return len(bridgetest.Texts(evs, bridge.KindAgentMessage)) >= 2 })
	if g := bridgetest.Texts(evs, bridge.KindAgentMessage); !slices.Equal(g, []string{"before", "after"}) {
		t.Fatalf("texts = %q", g)
	}
	got = e.waitSim(sc.ID, "the visitor text", func(c lasim.ChatView) bool { return len(visitorTexts(c)) == 1 })
	if got.State != lasim.StateEstablished || got.AffinityToken == sc.AffinityToken || got.Counters.Resyncs < 1 {
		t.Fatalf("after reconnect: state %s, affinity %s (was %s), resyncs %d", got.State, got.AffinityToken, sc.AffinityToken, got.Counters.Resyncs)
	}
}

// Invariant 3: across instances, one poller per chat; when the polling
// instance dies, another takes over well within clientPollTimeout, with no
// concurrent poll (409) and no message lost or duplicated.
func TestFailoverOnePollerNothingLost(t *testing.T) {
	e := newEnv(t, lasim.Options{HoldTime: 500 * time.Millisecond, ClientPollTimeout: 4 * time.Second})
	a := e.start("a")
	b := e.startWith("b", a.sink) // one receiver (LINE), de-duplicating by delivery key as LINE does
	var vs []bridge.Visitor
	for i := range 4 {
		v := visitor(fmt.Sprintf("failover-%d", i))
		vs = append(vs, v)
		open(t, a, v) // a starts them, so a polls them
		_ = e.sim.Accept(e.simChat(v.DisplayName).ID)
	}
	for _, v := range vs {
		a.sink.WaitFor(t, v.CustomerID, "agent joined", bridgetest.HasKind(bridge.KindAgentJoined))
	}
	if a.b.Owned() != 4 || b.b.Owned() != 0 { // b has adopted nothing yet
		t.Fatalf("owned: a=%d b=%d", a.b.Owned(), b.b.Owned())
	}
	for _, v := range vs {
		_ = e.sim.AgentSend(e.simChat(v.DisplayName).ID, "one")
	}
	for _, v := range vs {
		a.sink.WaitFor(t, v.CustomerID, "one", func(evs []bridge.Event) bool { return len(bridgetest.Texts(evs, bridge.KindAgentMessage)) == 1 })
	}
	killed := time.Now()
	a.kill()
	for _, v := range vs {
		_ = e.sim.AgentSend(e.simChat(v.DisplayName).ID, "two")
		send(t, b, v.CustomerID, "visitor during failover")
	}
	for _, v := range vs {
		b.sink.WaitFor(t, v.CustomerID, "two", func(evs []bridge.Event) bool { return len(bridgetest.Texts(evs, bridge.KindAgentMessage)) >= 2 })
	}
	took := time.Since(killed)
	if took > 4*time.Second {
		t.Errorf("takeover took %v, not within clientPollTimeout", took)
	}
	t.Logf("takeover of 4 chats took %v", took)
	for _, v := range vs {
		sc := e.waitSim(e.simChat(v.DisplayName).ID, "visitor text", func(c lasim.ChatView) bool { return len(visitorTexts(c)) == 1 })
		if sc.State != lasim.StateEstablished || sc.Counters.Conflicts409 != 0 {
			t.Fatalf("%s: state %s, 409s %d", v.DisplayName, sc.State, sc.Counters.Conflicts409)
		}
		// Every agent text once, in order, whichever instance delivered it.
		all := bridgetest.Texts(b.sink.Events(v.CustomerID), bridge.KindAgentMessage)
		if !slices.Equal(all, []string{"one", "two"}) {
			t.Fatalf("%s: delivered %q", v.DisplayName, all)
		}
	}
}

// A graceful restart (SIGTERM) hands chats over at once and resumes every
// cursor where it stopped.
func TestRestartResumes(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	a := e.start("a")
	v := visitor("restart")
	open(t, a, v)
	sc := e.simChat("restart")
	_ = e.sim.Accept(sc.ID)
	_ = e.sim.AgentSend(sc.ID, "first")
	a.sink.WaitFor(t, v.CustomerID, "first", func(evs []bridge.Event) bool { return len(bridgetest.Texts(evs, bridge.KindAgentMessage)) == 1 })
	a.stop()
	_ = e.sim.AgentSend(sc.ID, "while down")
	a2 := e.startWith("a2", a.sink) // the same receiver
	_ = e.sim.AgentSend(sc.ID, "after")
	evs := a2.sink.WaitFor(t, v.CustomerID, "three texts", func(evs []bridge.Event) bool { return len(bridgetest.Texts(evs, bridge.KindAgentMessage)) >= 3 })
	if g := bridgetest.Texts(evs, bridge.KindAgentMessage); !slices.Equal(g, []string{"first", "while down", "after"}) {
		t.Fatalf("after restart delivered %q", g)
	}
	if c := e.simChat("restart").Counters.Conflicts409; c != 0 {
		t.Fatalf("409s: %d", c)
	}
}

// Open is idempotent while a chat is open, and a failed start ends the chat.
func TestOpenIdempotentAndStartFailure(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	in := e.start("a")
	v := visitor("idem")
	first := open(t, in, v)
	again, created, err := in.b.Open(context.Background(), v)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("second Open = %v, %v, %v", again.ID, created, err)
	}
	if n := len(e.sim.Chats()); n != 1 {
		t.Fatalf("simulator has %d chats, want 1", n)
	}
	_ = e.sim.InjectFault(lasim.Fault{Kind: "chasitorInit", Status: 500})
	w := visitor("fails")
	ch, created, err := in.b.Open(context.Background(), w)
	if err == nil || !created {
		t.Fatalf("Open with a failing desk = %v, %v", created, err)
	}
	ch, _ = in.b.Chat(context.Background(), w.CustomerID)
	if ch.Status != bridge.StatusEnded || ch.EndReason != bridge.EndStartFailed {
		t.Fatalf("failed chat = %+v", ch)
	}
	if err := in.b.Send(context.Background(), w.CustomerID, bridge.Event{Text: "x"}); err != bridge.ErrChatClosed {
		t.Fatalf("Send to a failed chat: %v", err)
	}
}
