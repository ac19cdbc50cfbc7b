package miaw_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/bridge/bridgetest"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// chat drives one desk session the way the core's runner does: it keeps the stored state and
// records every event, so tests can check order and uniqueness.
type chat struct {
	t     *testing.T
	d     *miaw.Desk
	state []byte
	conv  string
	got   []bridge.Event
}

func newDesk(t *testing.T, c *miaw.Client, o miaw.DeskOptions) *miaw.Desk {
	if o.Wait == 0 {
		o.Wait = 300 * time.Millisecond
	}
	o.Logger = testLogger()
	d := miaw.NewDesk(c, o)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func startChat(t *testing.T, f *fixture, d *miaw.Desk, v bridge.Visitor) *chat {
	t.Helper()
	state, err := d.Start(ctxT(t), v, 1)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var st struct {
		Conv string `json:"conv"`
	}
	_ = json.Unmarshal(state, &st)
	return &chat{t: t, d: d, state: state, conv: st.Conv}
}

// receive calls Receive once and stores the batch as the core would.
func (c *chat) receive() (bridge.Batch, error) {
	b, err := c.d.Receive(ctxT(c.t), c.state)
	if err != nil {
		return b, err
	}
	if b.Seq != -1 {
		c.t.Fatalf("Batch.Seq = %d, want -1", b.Seq)
	}
	if b.State != nil {
		c.state = b.State
	}
	c.got = append(c.got, b.Events...)
	return b, nil
}

// until receives until pred holds for all events so far.
func (c *chat) until(what string, pred func([]bridge.Event) bool) []bridge.Event {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !pred(c.got) {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s; have %s", what, kinds(c.got))
		}
		if _, err := c.receive(); err != nil {
			c.t.Fatalf("Receive while waiting for %s: %v", what, err)
		}
	}
	return c.got
}

func kinds(evs []bridge.Event) string { return bridgetest.Kinds(evs) }

// texts returns the agent's texts.
func texts(evs []bridge.Event) []string { return bridgetest.Texts(evs, bridge.KindAgentMessage) }

func has(k bridge.Kind) func([]bridge.Event) bool { return bridgetest.HasKind(k) }

func nTexts(n int) func([]bridge.Event) bool {
	return func(evs []bridge.Event) bool { return len(texts(evs)) >= n }
}

func assertUnique(t *testing.T, evs []bridge.Event) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range evs {
		if e.ID == "" {
			t.Fatalf("event without id: %+v", e)
		}
		if seen[e.ID] {
			t.Fatalf("event %s (%s) delivered twice: %s", e.ID, e.Kind, kinds(evs))
		}
		seen[e.ID] = true
	}
}

func visitor(name string) bridge.Visitor {
	return bridge.Visitor{CustomerID: bridge.CustomerID("U" + fmt.Sprintf("%032x", []byte(name))[:32]), DisplayName: name}
}

func TestDeskFullChat(t *testing.T) {
	for _, guest := range []bool{false, true} {
		t.Run(fmt.Sprintf("guest=%v", guest), func(t *testing.T) {
			f := newFixture(t)
			d := newDesk(t, f.client(guest), miaw.DeskOptions{})
			v := visitor("full")
			v.Fields = map[string]string{"Plan": "gold"}
			c := startChat(t, f, d, v)
			sc := f.waitConv(c.conv, "created", func(miawsim.ConversationView) bool { return true })
			if sc.RoutingAttributes["LineUserId"] != string(v.CustomerID) || sc.RoutingAttributes["LineDisplayName"] != "full" || sc.RoutingAttributes["Plan"] != "gold" {
				t.Fatalf("routing attributes = %v", sc.RoutingAttributes)
			}
			c.until("requested", has(bridge.KindRequested))
			if err := f.sim.Accept(c.conv); err != nil {
				t.Fatal(err)
			}
			evs := c.until("agent joined", has(bridge.KindAgentJoined))
			if j := evs[len(evs)-1]; j.Kind != bridge.KindAgentJoined || j.AgentName != "Agent Smith" {
				t.Fatalf("last event = %+v", j)
			}
			// Customer → agent: text and typing.
			if err := d.Send(ctxT(t), c.state, 2, "こんにちは"); err != nil {
				t.Fatal(err)
			}
			if err := d.Typing(ctxT(t), c.state, 3, true); err != nil {
				t.Fatal(err)
			}
			f.waitConv(c.conv, "end-user text", func(v miawsim.ConversationView) bool {
				return slices.Equal(v.EndUserTexts(), []string{"こんにちは"})
			})
			// Agent → customer.
			_ = f.sim.AgentTyping(c.conv, true)
			for i := range 3 {
				_ = f.sim.AgentSend(c.conv, fmt.Sprintf("agent %d", i+1))
			}
			c.until("three texts", nTexts(3))
			if g := texts(c.got); !slices.Equal(g, []string{"agent 1", "agent 2", "agent 3"}) {
				t.Fatalf("texts = %q", g)
			}
			if !has(bridge.KindAgentTyping)(c.got) {
				t.Fatalf("no typing event: %s", kinds(c.got))
			}
			if err := f.sim.EndSession(c.conv); err != nil {
				t.Fatal(err)
			}
			evs = c.until("ended", has(bridge.KindEnded))
			end := evs[len(evs)-1]
			if end.Kind != bridge.KindEnded || end.EndReason != bridge.EndByAgent {
				t.Fatalf("end event = %+v", end)
			}
			assertUnique(t, c.got)
			// The customer's echoed message never comes back as an event.
			for _, e := range c.got {
				if e.Text == "こんにちは" {
					t.Fatalf("echo delivered: %+v", e)
				}
			}
			// The chat is over: End is harmless, Detach closes the stream.
			if err := d.End(ctxT(t), c.state, 9); err != nil {
				t.Fatalf("End after the agent ended: %v", err)
			}
			d.Detach(c.state)
			f.waitConv(c.conv, "stream closed", func(v miawsim.ConversationView) bool { return v.Streams == 0 })
		})
	}
}

// An SSE drop mid-chat: what the agent sent while the stream was down is backfilled from the
// entries, in order, and nothing is delivered twice.
func TestDeskStreamDropBackfillsWithoutDuplicates(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("drop"))
	_ = f.sim.Accept(c.conv)
	_ = f.sim.AgentSend(c.conv, "before")
	c.until("before", nTexts(1))
	before := f.sim.Stats().StreamConnects
	for round := range 3 {
		if err := f.sim.DropStreams(c.conv); err != nil {
			t.Fatal(err)
		}
		// Sent while the client is reconnecting (or not yet noticed the drop): the simulator
		// does not replay them on the new stream.
		_ = f.sim.AgentSend(c.conv, fmt.Sprintf("during %d", round))
		f.waitStats("reconnect", func(s miawsim.Stats) bool { return s.StreamConnects > before+round })
		_ = f.sim.AgentSend(c.conv, fmt.Sprintf("after %d", round))
	}
	c.until("all texts", nTexts(7))
	want := []string{"before", "during 0", "after 0", "during 1", "after 1", "during 2", "after 2"}
	if g := texts(c.got); !slices.Equal(g, want) {
		t.Fatalf("texts = %q, want %q", g, want)
	}
	assertUnique(t, c.got)
	if v := f.sim.Conversations()[0]; v.Counters.EntryLists < 4 {
		t.Fatalf("backfills = %d, want one per connection", v.Counters.EntryLists)
	}
}

// Events replayed by the server after a reconnect are dropped by identifier.
func TestDeskDuplicatesAfterReconnectDropped(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("dups"))
	_ = f.sim.Accept(c.conv)
	for i := range 5 {
		_ = f.sim.AgentSend(c.conv, fmt.Sprintf("m%d", i))
	}
	c.until("five", nTexts(5))
	before := f.sim.Stats()
	if err := f.sim.ReplayOnReconnect(c.conv, 20); err != nil {
		t.Fatal(err)
	}
	_ = f.sim.DropStreams(c.conv)
	f.waitStats("replayed reconnect", func(s miawsim.Stats) bool { return s.Replays > before.Replays })
	_ = f.sim.AgentSend(c.conv, "m5")
	c.until("six", nTexts(6))
	// A few more receives to give duplicates a chance to show up.
	for range 2 {
		if _, err := c.receive(); err != nil {
			t.Fatal(err)
		}
	}
	if g := texts(c.got); !slices.Equal(g, []string{"m0", "m1", "m2", "m3", "m4", "m5"}) {
		t.Fatalf("texts = %q", g)
	}
	assertUnique(t, c.got)
}

// A batch the core failed to store (the next Receive gets the old state) is returned again;
// once stored, it is not.
func TestDeskRedeliversUnstoredBatch(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("redeliver"))
	c.until("requested", has(bridge.KindRequested))
	_ = f.sim.Accept(c.conv)
	_ = f.sim.AgentSend(c.conv, "one")
	c.until("one", nTexts(1))
	old := c.state
	_ = f.sim.AgentSend(c.conv, "two")
	var first bridge.Batch
	for len(texts(first.Events)) == 0 {
		b, err := d.Receive(ctxT(t), old)
		if err != nil {
			t.Fatal(err)
		}
		first = b
	}
	// Not stored: the same events come again, with the same ids.
	again, err := d.Receive(ctxT(t), old)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Events) != len(first.Events) || again.Events[0].ID != first.Events[0].ID {
		t.Fatalf("redelivery = %s, first = %s", kinds(again.Events), kinds(first.Events))
	}
	// Stored: nothing more.
	next, err := d.Receive(ctxT(t), again.State)
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Events) != 0 {
		t.Fatalf("after storing: %s", kinds(next.Events))
	}
}

// Another instance (a new Desk, as after a takeover) resumes from the stored state: the
// backfill returns exactly what was not stored yet.
func TestDeskTakeoverResumesFromState(t *testing.T) {
	f := newFixture(t)
	a := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, a, visitor("takeover"))
	_ = f.sim.Accept(c.conv)
	for i := range 3 {
		_ = f.sim.AgentSend(c.conv, fmt.Sprintf("a%d", i))
	}
	c.until("three", nTexts(3))
	stored := c.state
	_ = f.sim.AgentSend(c.conv, "lost on a")
	// a receives it but "dies" before storing.
	for {
		b, err := a.Receive(ctxT(t), stored)
		if err != nil {
			t.Fatal(err)
		}
		if len(texts(b.Events)) > 0 {
			break
		}
	}
	b := newDesk(t, f.client(false), miaw.DeskOptions{})
	c2 := &chat{t: t, d: b, state: stored, conv: c.conv, got: slices.Clone(c.got)}
	_ = f.sim.AgentSend(c.conv, "after takeover")
	c2.until("five", nTexts(5))
	if g := texts(c2.got); !slices.Equal(g, []string{"a0", "a1", "a2", "lost on a", "after takeover"}) {
		t.Fatalf("texts = %q", g)
	}
	assertUnique(t, c2.got)
	a.Detach(stored)
}

func TestDeskLifecycleEvents(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("lifecycle"))
	c.until("requested", has(bridge.KindRequested))
	if err := f.sim.SetQueuePosition(c.conv, 3, 45); err != nil {
		t.Fatal(err)
	}
	evs := c.until("queue update", has(bridge.KindQueueUpdate))
	q := evs[len(evs)-1]
	if q.Position == nil || *q.Position != 3 || q.Wait == nil || *q.Wait != 45 {
		t.Fatalf("queue update = %+v", q)
	}
	_ = f.sim.AcceptAs(c.conv, "Alice")
	c.until("joined", has(bridge.KindAgentJoined))
	_ = f.sim.Transfer(c.conv, "Bob")
	evs = c.until("transferred", has(bridge.KindTransferred))
	if tr := evs[len(evs)-1]; tr.AgentName != "Bob" {
		t.Fatalf("transfer = %+v", tr)
	}
	_ = f.sim.AgentTyping(c.conv, true)
	_ = f.sim.AgentTyping(c.conv, false)
	c.until("not typing", has(bridge.KindAgentNotTyping))
	_ = f.sim.Leave(c.conv)
	c.until("left", has(bridge.KindAgentLeft))
	// Unknown event types (and receipts) are ignored; the next known one still arrives.
	_ = f.sim.SendRawEvent(c.conv, miawsim.RawEvent{Type: "CONVERSATION_PROGRESS_INDICATOR", EntryType: "ProgressIndicator", Payload: json.RawMessage(`{"x":1}`)})
	_ = f.sim.SendRawEvent(c.conv, miawsim.RawEvent{Type: "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT", EntryType: "DeliveryAcknowledgement", Persistent: true})
	_ = f.sim.SendRawEvent(c.conv, miawsim.RawEvent{Type: "SOMETHING_NEW", EntryType: "Message", Role: "Agent", Payload: json.RawMessage(`{"abstractMessage":{"messageType":"StaticContentMessage","staticContent":{"formatType":"Text","text":"unknown type"}}}`)})
	_ = f.sim.AcceptAs(c.conv, "Carol")
	_ = f.sim.AgentSend(c.conv, "known")
	c.until("known", nTexts(1))
	if g := texts(c.got); !slices.Equal(g, []string{"known"}) {
		t.Fatalf("texts = %q (unknown event types must be ignored)", g)
	}
	want := []bridge.Kind{bridge.KindRequested, bridge.KindQueueUpdate, bridge.KindAgentJoined, bridge.KindTransferred,
		bridge.KindAgentTyping, bridge.KindAgentNotTyping, bridge.KindAgentLeft, bridge.KindAgentJoined, bridge.KindAgentMessage}
	var got []bridge.Kind
	for _, e := range c.got {
		got = append(got, e.Kind)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	assertUnique(t, c.got)
}

func TestDeskRoutingFailure(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("fail"))
	c.until("requested", has(bridge.KindRequested))
	if err := f.sim.FailRouting(c.conv, "RoutingError", "no agents"); err != nil {
		t.Fatal(err)
	}
	evs := c.until("failed", has(bridge.KindRequestFailed))
	if e := evs[len(evs)-1]; e.Reason != "RoutingError: no agents" {
		t.Fatalf("failure = %+v", e)
	}
}

func TestDeskSendAndEnd(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("send"))
	_ = f.sim.Accept(c.conv)
	// A retry of the same message (same seq) reuses its id: the agent sees it once.
	for range 2 {
		if err := d.Send(ctxT(t), c.state, 5, "once"); err != nil {
			t.Fatal(err)
		}
	}
	v := f.waitConv(c.conv, "message", func(v miawsim.ConversationView) bool { return v.Counters.Messages == 1 })
	if v.Counters.DuplicateMessages != 1 || !slices.Equal(v.EndUserTexts(), []string{"once"}) {
		t.Fatalf("counters %+v, texts %q", v.Counters, v.EndUserTexts())
	}
	// A transient failure is returned for the core to retry; a 400 is permanent.
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 503})
	if err := d.Send(ctxT(t), c.state, 6, "x"); err == nil || errors.Is(err, bridge.ErrPermanent) || errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Send with 503 = %v", err)
	}
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 400})
	if err := d.Send(ctxT(t), c.state, 7, "x"); !errors.Is(err, bridge.ErrPermanent) {
		t.Fatalf("Send with 400 = %v", err)
	}
	// /close: End closes the conversation; twice is fine.
	if err := d.End(ctxT(t), c.state, 8); err != nil {
		t.Fatal(err)
	}
	if err := d.End(ctxT(t), c.state, 9); err != nil {
		t.Fatalf("second End: %v", err)
	}
	v = f.waitConv(c.conv, "closed", func(v miawsim.ConversationView) bool { return v.State == miawsim.StateClosed })
	if v.EndedBy != miawsim.RoleEndUser {
		t.Fatalf("ended by %q", v.EndedBy)
	}
	// After the close the conversation is gone for sending.
	if err := d.Send(ctxT(t), c.state, 10, "late"); !errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Send after close = %v", err)
	}
}

// A 417 (the agent ended the session) is the end of the chat, not a new session.
func TestDeskSendAfterAgentEndedSession(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("417"))
	_ = f.sim.Accept(c.conv)
	c.until("joined", has(bridge.KindAgentJoined))
	_ = f.sim.EndSession(c.conv)
	if err := d.Send(ctxT(t), c.state, 2, "too late"); !errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Send after the session ended = %v", err)
	}
	v := f.waitConv(c.conv, "417", func(v miawsim.ConversationView) bool { return v.Counters.NoSession417 == 1 })
	if v.Sessions != 1 || v.Counters.NewSessions != 0 {
		t.Fatalf("a new session was started: %+v", v)
	}
	c.until("ended", has(bridge.KindEnded))
}

// A 417 with no end event at all still ends the chat after one wait.
func TestDeskNoSessionWithoutEndEvent(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("417-only"))
	_ = f.sim.Accept(c.conv)
	c.until("joined", has(bridge.KindAgentJoined))
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 417})
	if err := d.Send(ctxT(t), c.state, 2, "x"); !errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Send = %v", err)
	}
	for {
		_, err := c.receive()
		if errors.Is(err, bridge.ErrSessionGone) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeskUnknownConversationIsGone(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	state := []byte(`{"v":1,"conv":"9a3c7a52-5b4b-4a8e-9f7e-1d2c3b4a5f60","user":"Uunknown"}`)
	if _, err := d.Receive(ctxT(t), state); !errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Receive of an unknown conversation = %v", err)
	}
	if _, err := d.Receive(ctxT(t), []byte(`{}`)); !errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Receive of a bad state = %v", err)
	}
	if err := d.End(ctxT(t), state, 1); err != nil {
		t.Fatalf("End of an unknown conversation = %v", err)
	}
}

// In guest mode the token is in the state; once it expires the chat cannot continue.
func TestDeskGuestTokenExpiryEndsChat(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(true), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("guest"))
	c.until("requested", has(bridge.KindRequested))
	f.sim.ExpireTokens()
	for {
		_, err := c.receive()
		if errors.Is(err, bridge.ErrSessionGone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Send(ctxT(t), c.state, 2, "x"); !errors.Is(err, bridge.ErrSessionGone) {
		t.Fatalf("Send with an expired guest token = %v", err)
	}
}

// In authenticated mode an expired token is replaced by a new one for the same user, on the
// stream and on calls, and the chat goes on.
func TestDeskAuthenticatedTokenExpiryRenews(t *testing.T) {
	f := newFixture(t)
	d := newDesk(t, f.client(false), miaw.DeskOptions{})
	c := startChat(t, f, d, visitor("renew"))
	_ = f.sim.Accept(c.conv)
	c.until("joined", has(bridge.KindAgentJoined))
	before := f.sim.Stats()
	f.sim.ExpireTokens()
	_ = f.sim.AgentSend(c.conv, "after expiry")
	if err := d.Send(ctxT(t), c.state, 2, "me too"); err != nil {
		t.Fatalf("Send after expiry: %v", err)
	}
	c.until("text", nTexts(1))
	st := f.sim.Stats()
	if st.TokensAuthenticated <= before.TokensAuthenticated || st.Unauthorized <= before.Unauthorized {
		t.Fatalf("stats before %+v after %+v", before, st)
	}
}

// Close stops every event stream and waits; an idle stream is closed by the reaper.
func TestDeskStreamsAreOwned(t *testing.T) {
	f := newFixture(t)
	d := miaw.NewDesk(f.client(false), miaw.DeskOptions{Wait: 100 * time.Millisecond, IdleTimeout: 200 * time.Millisecond, Logger: testLogger()})
	a := startChat(t, f, d, visitor("owned-a"))
	b := startChat(t, f, d, visitor("owned-b"))
	a.until("requested", has(bridge.KindRequested))
	b.until("requested", has(bridge.KindRequested))
	f.waitStats("two streams", func(s miawsim.Stats) bool { return s.StreamsOpen == 2 })
	// b is not received any more: the reaper closes its stream; a keeps receiving.
	deadline := time.Now().Add(10 * time.Second)
	for f.sim.Stats().StreamsOpen != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("idle stream not closed: %+v", f.sim.Stats())
		}
		if _, err := a.receive(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	f.waitStats("no streams", func(s miawsim.Stats) bool { return s.StreamsOpen == 0 })
	if _, err := d.Receive(ctxT(t), a.state); err == nil {
		t.Fatal("Receive after Close succeeded")
	}
}
