package miaw_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// Every agent message reaches the sink and the pull consumer in order, once; the agent's end
// ends the chat.
func TestBridgeEveryAgentMessageInOrderOnce(t *testing.T) {
	e := newBridgeEnv(t)
	in := e.start("a")
	v := visitor("order")
	bopen(t, in, v)
	sc := e.simConv(v.CustomerID)
	if err := e.sim.AcceptAs(sc.ID, "佐藤"); err != nil {
		t.Fatal(err)
	}
	want := agentTexts(12, "agent says")
	for _, text := range want {
		if err := e.sim.AgentSend(sc.ID, text); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sim.EndSession(sc.ID); err != nil {
		t.Fatal(err)
	}
	pulled := pull(t, in, v.CustomerID, isEnded)
	if g := texts(pulled); !slices.Equal(g, want) {
		t.Fatalf("pulled %q, want %q", g, want)
	}
	if pulled[0].Kind != bridge.KindRequested || pulled[1].Kind != bridge.KindAgentJoined || pulled[1].AgentName != "佐藤" {
		t.Fatalf("pulled %s", kinds(pulled))
	}
	sunk := in.sink.WaitFor(t, v.CustomerID, "the end", isEnded)
	if g := texts(sunk); !slices.Equal(g, want) {
		t.Fatalf("sink texts %q, want %q", g, want)
	}
	assertUnique(t, sunk)
	ch, _ := in.b.Chat(context.Background(), v.CustomerID)
	if ch.Status != bridge.StatusEnded || ch.EndReason != bridge.EndByAgent || ch.AgentName != "佐藤" {
		t.Fatalf("chat = %+v", ch)
	}
}

// Messages sent before the agent joins are held and sent, in order, once it has.
func TestBridgeMessagesBeforeAgentAreHeld(t *testing.T) {
	e := newBridgeEnv(t)
	in := e.start("a")
	v := visitor("early")
	bopen(t, in, v)
	sc := e.simConv(v.CustomerID)
	want := []string{"こんにちは", "order #123", "まだですか？"}
	for _, text := range want {
		bsend(t, in, v.CustomerID, text)
	}
	// The runner is receiving (it delivered the routing result) and has not sent anything.
	in.sink.WaitFor(t, v.CustomerID, "requested", has(bridge.KindRequested))
	if got := e.waitConv(sc.ID, "a backfill", func(c miawsim.ConversationView) bool { return c.Counters.EntryLists > 0 }); len(got.EndUserTexts()) != 0 {
		t.Fatalf("agent saw %q before joining", got.EndUserTexts())
	}
	if err := e.sim.Accept(sc.ID); err != nil {
		t.Fatal(err)
	}
	bsend(t, in, v.CustomerID, "after accept")
	want = append(want, "after accept")
	got := e.waitConv(sc.ID, "all customer messages", func(c miawsim.ConversationView) bool { return len(c.EndUserTexts()) >= len(want) })
	if g := got.EndUserTexts(); !slices.Equal(g, want) {
		t.Fatalf("agent saw %q, want %q", g, want)
	}
	if got.Counters.MessagesBeforeAgent != 0 || got.Counters.DuplicateMessages != 0 || got.Counters.NoSession417 != 0 {
		t.Fatalf("counters %+v", got.Counters)
	}
}

// An SSE drop mid-chat loses and duplicates nothing, also with the server replaying duplicates.
func TestBridgeStreamDropLosesNothing(t *testing.T) {
	e := newBridgeEnv(t)
	in := e.start("a")
	v := visitor("sse-drop")
	bopen(t, in, v)
	sc := e.simConv(v.CustomerID)
	_ = e.sim.Accept(sc.ID)
	_ = e.sim.AgentSend(sc.ID, "before")
	in.sink.WaitFor(t, v.CustomerID, "before", func(evs []bridge.Event) bool { return len(texts(evs)) == 1 })
	want := []string{"before"}
	for round := range 3 {
		connects := e.sim.Stats().StreamConnects
		if round == 1 {
			_ = e.sim.ReplayOnReconnect(sc.ID, 50)
		}
		_ = e.sim.DropStreams(sc.ID)
		during := fmt.Sprintf("during %d", round)
		_ = e.sim.AgentSend(sc.ID, during)
		e.waitStats("reconnect", func(s miawsim.Stats) bool { return s.StreamConnects > connects })
		after := fmt.Sprintf("after %d", round)
		_ = e.sim.AgentSend(sc.ID, after)
		bsend(t, in, v.CustomerID, fmt.Sprintf("customer %d", round))
		want = append(want, during, after)
	}
	final := e.waitConv(sc.ID, "customer texts", func(c miawsim.ConversationView) bool { return len(c.EndUserTexts()) >= 3 })
	_ = e.sim.EndSession(sc.ID)
	sunk := in.sink.WaitFor(t, v.CustomerID, "the end", isEnded)
	if g := texts(sunk); !slices.Equal(g, want) {
		t.Fatalf("sink texts %q, want %q", g, want)
	}
	assertUnique(t, sunk)
	if g := final.EndUserTexts(); !slices.Equal(g, []string{"customer 0", "customer 1", "customer 2"}) || final.Counters.DuplicateMessages != 0 {
		t.Fatalf("agent saw %q (counters %+v)", g, final.Counters)
	}
}

// An instance killed mid-chat is replaced by another: nothing lost, nothing duplicated, in
// either direction.
func TestBridgeInstanceKilledMidChat(t *testing.T) {
	e := newBridgeEnv(t)
	a := e.start("a")
	b := e.startWith("b", a.sink) // one receiver, de-duplicating by delivery key as LINE does
	var vs []bridge.Visitor
	for i := range 3 {
		v := visitor(fmt.Sprintf("killed-%d", i))
		vs = append(vs, v)
		bopen(t, a, v) // a starts them, so a drives them
		_ = e.sim.Accept(e.simConv(v.CustomerID).ID)
	}
	for _, v := range vs {
		a.sink.WaitFor(t, v.CustomerID, "agent joined", has(bridge.KindAgentJoined))
		_ = e.sim.AgentSend(e.simConv(v.CustomerID).ID, "one")
	}
	for _, v := range vs {
		a.sink.WaitFor(t, v.CustomerID, "one", func(evs []bridge.Event) bool { return len(texts(evs)) == 1 })
	}
	if a.b.Owned() != 3 || b.b.Owned() != 0 {
		t.Fatalf("owned: a=%d b=%d", a.b.Owned(), b.b.Owned())
	}
	a.kill()
	for _, v := range vs {
		id := e.simConv(v.CustomerID).ID
		_ = e.sim.AgentSend(id, "two")
		_ = e.sim.AgentSend(id, "three")
		bsend(t, b, v.CustomerID, "customer during failover")
	}
	for _, v := range vs {
		b.sink.WaitFor(t, v.CustomerID, "two and three", func(evs []bridge.Event) bool { return len(texts(evs)) >= 3 })
	}
	for _, v := range vs {
		sc := e.waitConv(e.simConv(v.CustomerID).ID, "customer text", func(c miawsim.ConversationView) bool { return len(c.EndUserTexts()) == 1 })
		if sc.State != miawsim.StateActive || sc.Counters.DuplicateMessages != 0 {
			t.Fatalf("%s: state %s, counters %+v", v.DisplayName, sc.State, sc.Counters)
		}
		all := b.sink.Events(v.CustomerID)
		if g := texts(all); !slices.Equal(g, []string{"one", "two", "three"}) {
			t.Fatalf("%s: delivered %q", v.DisplayName, g)
		}
		assertUnique(t, all)
	}
}

// /close ends the chat at the simulator (the conversation is closed by the end user) and for
// every consumer, once.
func TestBridgeCloseReachesSimulator(t *testing.T) {
	e := newBridgeEnv(t)
	in := e.start("a")
	v := visitor("close")
	bopen(t, in, v)
	sc := e.simConv(v.CustomerID)
	_ = e.sim.Accept(sc.ID)
	in.sink.WaitFor(t, v.CustomerID, "joined", has(bridge.KindAgentJoined))
	if err := in.b.Close(context.Background(), v.CustomerID, bridge.EndByCustomer); err != nil {
		t.Fatal(err)
	}
	got := e.waitConv(sc.ID, "closed", func(c miawsim.ConversationView) bool { return c.State == miawsim.StateClosed })
	if got.EndedBy != miawsim.RoleEndUser {
		t.Fatalf("ended by %q", got.EndedBy)
	}
	ch, _ := in.b.Chat(context.Background(), v.CustomerID)
	if ch.Status != bridge.StatusEnded || ch.EndReason != bridge.EndByCustomer {
		t.Fatalf("chat = %+v", ch)
	}
	// The conversation's own end entries arrive after the bridge recorded the end: dropped.
	waitOwned(t, in, 0)
	if err := in.b.Close(context.Background(), v.CustomerID, bridge.EndByCustomer); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// The stream of the ended chat is detached.
	e.waitConv(sc.ID, "stream closed", func(c miawsim.ConversationView) bool { return c.Streams == 0 })
	// A new chat for the same customer is a new conversation.
	bopen(t, in, v)
	if next := e.simConv(v.CustomerID); next.ID == sc.ID {
		t.Fatal("the new chat reused the closed conversation")
	}
}

// A routing failure ends the chat as request_failed.
func TestBridgeRoutingFailureEndsChat(t *testing.T) {
	e := newBridgeEnv(t)
	in := e.start("a")
	v := visitor("no-agent")
	bopen(t, in, v)
	sc := e.simConv(v.CustomerID)
	in.sink.WaitFor(t, v.CustomerID, "requested", has(bridge.KindRequested))
	_ = e.sim.FailRouting(sc.ID, "", "no agent available")
	in.sink.WaitFor(t, v.CustomerID, "failed", has(bridge.KindRequestFailed))
	waitOwned(t, in, 0)
	ch, _ := in.b.Chat(context.Background(), v.CustomerID)
	if ch.Status != bridge.StatusEnded || ch.EndReason != bridge.EndRequestFail {
		t.Fatalf("chat = %+v", ch)
	}
}

func waitOwned(t *testing.T, in *binstance, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for in.b.Owned() != n {
		if time.Now().After(deadline) {
			t.Fatalf("instance owns %d chats, want %d", in.b.Owned(), n)
		}
		time.Sleep(10 * time.Millisecond) // Owned has no change notification to await
	}
}
