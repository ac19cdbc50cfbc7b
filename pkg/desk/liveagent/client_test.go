package liveagent_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
)

func TestFullChatFlow(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.start("山田太郎")

	m := h.poll(st)
	if m == nil || m.Sequence != 0 {
		t.Fatalf("first payload = %+v, want sequence 0", m)
	}
	crs := decode[liveagent.ChatRequestSuccess](t, m.Messages[0])
	if crs.QueuePosition != 1 || crs.ConnectionTimeout != 150000 {
		t.Errorf("ChatRequestSuccess = %+v", crs)
	}

	v, err := h.sim.Chat(st.s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lasim.StateQueued || v.VisitorName != "山田太郎" || !strings.Contains(string(v.PrechatDetails), "U0123456789abcdef") {
		t.Fatalf("agent view after init = %+v", v)
	}

	if err := h.sim.AcceptAs(st.s.ID, "佐藤"); err != nil {
		t.Fatal(err)
	}
	m = h.poll(st)
	est := decode[liveagent.ChatEstablished](t, m.Messages[0])
	if est.Name != "佐藤" || !strings.HasPrefix(est.UserID, "005") || est.ChasitorIdleTimeout.IsEnabled {
		t.Errorf("ChatEstablished = %+v", est)
	}
	if m.Sequence != 1 {
		t.Errorf("sequence = %d, want 1", m.Sequence)
	}

	// Visitor → agent.
	if err := h.client.ChatMessage(h.ctx, st.s, st.next(), "こんにちは"); err != nil {
		t.Fatal(err)
	}
	h.waitChat(st, "visitor message", func(v lasim.ChatView) bool { return v.LastVisitorMessage() == "こんにちは" })

	// Agent → visitor, with typing around it.
	for _, step := range []func() error{
		func() error { return h.sim.AgentTyping(st.s.ID, true) },
		func() error { return h.sim.AgentSend(st.s.ID, "ご用件をどうぞ") },
		func() error { return h.sim.AgentTyping(st.s.ID, false) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	m = h.poll(st)
	if got := types(m); !equal(got, []string{"AgentTyping", "ChatMessage", "AgentNotTyping"}) {
		t.Fatalf("types = %v", got)
	}
	cm := decode[liveagent.ChatMessage](t, m.Messages[1])
	if cm.Text != "ご用件をどうぞ" || cm.Name != "佐藤" || cm.Schedule == nil {
		t.Errorf("ChatMessage = %+v", cm)
	}

	// Agent ends: ChatEnded, then 403 everywhere.
	if err := h.sim.End(st.s.ID); err != nil {
		t.Fatal(err)
	}
	m = h.poll(st)
	ended := decode[liveagent.ChatEnded](t, m.Messages[0])
	if ended.Reason != "agent" {
		t.Errorf("ChatEnded = %+v", ended)
	}
	_, err = h.client.Messages(h.ctx, st.s, st.ack)
	if !errors.Is(err, liveagent.ErrSessionInvalid) {
		t.Fatalf("poll after end: %v, want ErrSessionInvalid", err)
	}
	if err := h.client.ChatEnd(h.ctx, st.s, st.next(), ""); !errors.Is(err, liveagent.ErrSessionInvalid) {
		t.Fatalf("ChatEnd after agent end: %v, want 403", err)
	}
}

func TestMessages204AfterHold(t *testing.T) {
	h := newHarness(t, lasim.Options{HoldTime: 150 * time.Millisecond})
	st := h.established("a")
	start := time.Now()
	m, err := h.client.Messages(h.ctx, st.s, st.ack)
	if err != nil || m != nil {
		t.Fatalf("Messages = %v, %v; want nil, nil (204)", m, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("204 after %v, before the hold time", d)
	}
	if v, _ := h.sim.Chat(st.s.ID); v.Counters.Empty204 != 1 {
		t.Errorf("empty204 = %d", v.Counters.Empty204)
	}
	// After a 204 the same ack is sent again and new events still arrive.
	if err := h.sim.AgentSend(st.s.ID, "later"); err != nil {
		t.Fatal(err)
	}
	if got := h.pollTypes(st); !equal(got, []string{"ChatMessage"}) {
		t.Fatalf("types = %v", got)
	}
}

func TestHoldingPollWakesOnEvent(t *testing.T) {
	h := newHarness(t, lasim.Options{HoldTime: time.Minute})
	st := h.established("a")
	type result struct {
		m   *liveagent.Messages
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		m, err := h.client.Messages(h.ctx, st.s, st.ack)
		done <- result{m, err}
	}()
	h.waitChat(st, "holding poll", func(v lasim.ChatView) bool { return v.PollActive })
	if err := h.sim.AgentSend(st.s.ID, "wake up"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !equal(types(r.m), []string{"ChatMessage"}) {
		t.Fatalf("poll = %v, %v", types(r.m), r.err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("poll took %v; should wake at once", d)
	}
}

func TestRedeliveryOfUnackedBatch(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	if err := h.sim.AgentSend(st.s.ID, "one"); err != nil {
		t.Fatal(err)
	}
	prevAck := st.ack
	first := h.poll(st)

	// The client "lost" the payload: it polls with the previous ack and gets the same payload.
	again, err := h.client.Messages(h.ctx, st.s, prevAck)
	if err != nil {
		t.Fatal(err)
	}
	if again.Sequence != first.Sequence || again.Offset != first.Offset || !equal(types(again), types(first)) {
		t.Fatalf("redelivery = %+v, want %+v", again, first)
	}
	if string(again.Messages[0].Message) != string(first.Messages[0].Message) {
		t.Errorf("redelivered payload differs")
	}
	// Acking it moves on.
	if err := h.sim.AgentSend(st.s.ID, "two"); err != nil {
		t.Fatal(err)
	}
	next := h.poll(st)
	if next.Sequence != first.Sequence+1 {
		t.Errorf("next sequence = %d, want %d", next.Sequence, first.Sequence+1)
	}
	if cm := decode[liveagent.ChatMessage](t, next.Messages[0]); cm.Text != "two" {
		t.Errorf("next = %q", cm.Text)
	}
	if v, _ := h.sim.Chat(st.s.ID); v.Counters.Redelivered != 1 {
		t.Errorf("redelivered = %d", v.Counters.Redelivered)
	}
}

func TestDuplicatePollTerminatesChat(t *testing.T) {
	h := newHarness(t, lasim.Options{HoldTime: time.Minute})
	st := h.established("a")
	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Messages(h.ctx, st.s, st.ack)
		errc <- err
	}()
	h.waitChat(st, "holding poll", func(v lasim.ChatView) bool { return v.PollActive })

	_, err := h.client.Messages(h.ctx, st.s, st.ack)
	if !errors.Is(err, liveagent.ErrDuplicatePoll) || statusOf(err) != 409 {
		t.Fatalf("second poll: %v, want 409", err)
	}
	if liveagent.Temporary(err) {
		t.Error("409 reported as temporary")
	}
	if err := <-errc; !errors.Is(err, liveagent.ErrDuplicatePoll) {
		t.Errorf("first poll: %v, want 409", err)
	}
	v := h.waitChat(st, "chat end", func(v lasim.ChatView) bool { return v.Ended() })
	if v.EndReason != "duplicatePoll" || v.Counters.Conflicts409 != 1 {
		t.Errorf("agent view: state %s reason %q conflicts %d", v.State, v.EndReason, v.Counters.Conflicts409)
	}
	if err := h.client.ChatMessage(h.ctx, st.s, st.next(), "x"); !errors.Is(err, liveagent.ErrSessionInvalid) {
		t.Errorf("ChatMessage after 409: %v, want 403", err)
	}
}

func TestAbandonedPollDoesNotCauseConflict(t *testing.T) {
	h := newHarness(t, lasim.Options{HoldTime: time.Minute})
	st := h.established("a")

	// A poller that dies mid-poll (its context is cancelled, the connection closes).
	pctx, kill := context.WithCancel(h.ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Messages(pctx, st.s, st.ack)
		errc <- err
	}()
	h.waitChat(st, "holding poll", func(v lasim.ChatView) bool { return v.PollActive })
	kill()
	if err := <-errc; !errors.Is(err, context.Canceled) || liveagent.Temporary(err) {
		t.Fatalf("killed poll: %v (temporary=%v), want context.Canceled, not temporary", err, liveagent.Temporary(err))
	}
	h.waitChat(st, "poll released", func(v lasim.ChatView) bool { return !v.PollActive })

	// Its successor polls without a 409 and the chat goes on.
	if err := h.sim.AgentSend(st.s.ID, "still here"); err != nil {
		t.Fatal(err)
	}
	if got := h.pollTypes(st); !equal(got, []string{"ChatMessage"}) {
		t.Fatalf("successor got %v", got)
	}
	if v, _ := h.sim.Chat(st.s.ID); v.Counters.Conflicts409 != 0 || v.Ended() {
		t.Errorf("chat after successor: %+v", v.Counters)
	}
}

func TestChatMessageBeforeEstablishedIs500(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.start("a")
	seq := st.next()
	err := h.client.ChatMessage(h.ctx, st.s, seq, "too early")
	if !errors.Is(err, liveagent.ErrServer) || statusOf(err) != 500 {
		t.Fatalf("ChatMessage before ChatEstablished: %v, want 500", err)
	}
	if !liveagent.Temporary(err) {
		t.Error("500 should be temporary")
	}
	if !strings.HasPrefix(err.Error(), "liveagent: chat message: status 500") {
		t.Errorf("error text %q", err)
	}
	if v, _ := h.sim.Chat(st.s.ID); v.Counters.Errors500 != 1 || len(v.Transcript) != 0 {
		t.Fatalf("sim: errors500=%d transcript=%v", v.Counters.Errors500, v.Transcript)
	}
	// Once established, the same message (same sequence) goes through.
	h.pollTypes(st)
	if err := h.sim.Accept(st.s.ID); err != nil {
		t.Fatal(err)
	}
	h.pollTypes(st)
	if err := h.client.ChatMessage(h.ctx, st.s, seq, "too early"); err != nil {
		t.Fatalf("retry after establish: %v", err)
	}
	h.waitChat(st, "message", func(v lasim.ChatView) bool { return v.LastVisitorMessage() == "too early" })
}

func TestExpiryThen403(t *testing.T) {
	h := newHarness(t, lasim.Options{ClientPollTimeout: 200 * time.Millisecond})
	s, err := h.client.SessionID(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientPollTimeout != 200*time.Millisecond {
		t.Errorf("ClientPollTimeout = %v", s.ClientPollTimeout)
	}
	st := &chatState{s: s, ack: -1}
	if err := h.client.ChasitorInit(h.ctx, s, st.next(), liveagent.ChasitorInit{VisitorName: "a"}); err != nil {
		t.Fatal(err)
	}
	// Nobody polls: the background reaper expires the session.
	v := h.waitChat(st, "expiry", func(v lasim.ChatView) bool { return v.State == lasim.StateExpired })
	if v.EndedBy != lasim.EndedBySystem {
		t.Errorf("ended by %q", v.EndedBy)
	}
	_, err = h.client.Messages(h.ctx, s, -1)
	var se *liveagent.StatusError
	if !errors.As(err, &se) || se.StatusCode != 403 || se.Body != "Session required but was invalid or not found" || se.Op != "messages" {
		t.Fatalf("poll after expiry: %#v", err)
	}
	if !errors.Is(err, liveagent.ErrSessionInvalid) || liveagent.Temporary(err) {
		t.Errorf("403 must be ErrSessionInvalid and not temporary")
	}
	if err := h.client.ChatMessage(h.ctx, s, st.next(), "x"); statusOf(err) != 403 {
		t.Errorf("ChatMessage after expiry: %v", err)
	}
}

func TestExpiredPollsAnswer204First(t *testing.T) {
	h := newHarness(t, lasim.Options{ExpiredPolls: 2, HoldTime: 20 * time.Millisecond})
	st := h.established("a")
	if err := h.sim.Expire(st.s.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if m, err := h.client.Messages(h.ctx, st.s, st.ack); m != nil || err != nil {
			t.Fatalf("poll %d after expiry = %v, %v; want 204", i, m, err)
		}
	}
	if _, err := h.client.Messages(h.ctx, st.s, st.ack); statusOf(err) != 403 {
		t.Fatalf("third poll after expiry: %v, want 403", err)
	}
}

func TestAffinityChangeReconnect(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	if err := h.client.ChatMessage(h.ctx, st.s, st.next(), "before"); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.AgentSend(st.s.ID, "answer"); err != nil {
		t.Fatal(err)
	}
	last := h.poll(st)
	if err := h.sim.InjectFault(lasim.Fault{Kind: "messages", Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}

	_, err := h.client.Messages(h.ctx, st.s, st.ack)
	if !errors.Is(err, liveagent.ErrAffinityChanged) || liveagent.Temporary(err) {
		t.Fatalf("poll: %v, want ErrAffinityChanged (not temporary)", err)
	}
	// While the session is not reconnected, every call with the old affinity gets 503 and the
	// agent keeps talking.
	if err := h.client.ChatMessage(h.ctx, st.s, st.next(), "lost?"); !errors.Is(err, liveagent.ErrAffinityChanged) {
		t.Fatalf("ChatMessage before reconnect: %v, want 503", err)
	}
	if err := h.sim.AgentSend(st.s.ID, "while you were away"); err != nil {
		t.Fatal(err)
	}

	rc, err := h.client.ReconnectSession(h.ctx, st.s, last.Offset)
	if err != nil {
		t.Fatal(err)
	}
	if !rc.ResetSequence || len(rc.AffinityToken) != 8 || rc.AffinityToken == st.s.AffinityToken {
		t.Fatalf("Reconnect = %+v (old affinity %s)", rc, st.s.AffinityToken)
	}
	old := st.s
	st.s = st.s.WithAffinity(rc.AffinityToken)
	st.seq = 0
	if err := h.client.ChasitorResyncState(h.ctx, st.s); err != nil {
		t.Fatal(err)
	}

	m := h.poll(st)
	if got := types(m); !equal(got, []string{"ChasitorSessionData", "ChatMessage"}) {
		t.Fatalf("after reconnect: %v", got)
	}
	sd := decode[liveagent.ChasitorSessionData](t, m.Messages[0])
	if len(sd.ChatMessages) != 3 || sd.ChatMessages[0].Type != "Chasitor" || sd.ChatMessages[0].Content != "before" ||
		sd.ChatMessages[2].Content != "while you were away" || sd.ChatMessages[2].Timestamp == 0 {
		t.Errorf("session data transcript = %+v", sd.ChatMessages)
	}
	if cm := decode[liveagent.ChatMessage](t, m.Messages[1]); cm.Text != "while you were away" {
		t.Errorf("message after reconnect = %q", cm.Text)
	}
	// The sequence restarts at 1 and is applied.
	if err := h.client.ChatMessage(h.ctx, st.s, st.next(), "lost?"); err != nil {
		t.Fatal(err)
	}
	v := h.waitChat(st, "resent message", func(v lasim.ChatView) bool { return v.LastVisitorMessage() == "lost?" })
	if v.Counters.Reconnects != 1 || v.Counters.Resyncs != 1 || v.LastClientSequence != 1 {
		t.Errorf("counters %+v lastClientSequence %d", v.Counters, v.LastClientSequence)
	}
	// The old affinity is no longer served.
	if err := h.client.ChatMessage(h.ctx, old, 99, "x"); !errors.Is(err, liveagent.ErrAffinityChanged) {
		t.Errorf("old affinity after reconnect: %v, want 503", err)
	}
}

func TestPostDeduplicationBySequence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
		want    int
	}{
		{"strict", false, 2},
		{"lax", true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, lasim.Options{DisableStrictSequence: tc.disable})
			st := h.established("a")
			for _, seq := range []int64{5, 5, 4, 6} {
				if err := h.client.ChatMessage(h.ctx, st.s, seq, "m"); err != nil {
					t.Fatalf("seq %d: %v", seq, err)
				}
			}
			v, _ := h.sim.Chat(st.s.ID)
			if v.Counters.VisitorMessages != tc.want {
				t.Errorf("applied %d messages, want %d", v.Counters.VisitorMessages, tc.want)
			}
			if !tc.disable && (v.Counters.DuplicatePosts != 2 || v.LastClientSequence != 6) {
				t.Errorf("duplicates %d, last sequence %d", v.Counters.DuplicatePosts, v.LastClientSequence)
			}
		})
	}
}

func TestChatEndByVisitor(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	if err := h.client.ChatEnd(h.ctx, st.s, st.next(), liveagent.EndReasonClientIdleTimeout); err != nil {
		t.Fatal(err)
	}
	v := h.waitChat(st, "end", func(v lasim.ChatView) bool { return v.Ended() })
	if v.EndedBy != lasim.EndedByVisitor || v.EndReason != "clientIdleTimeout" {
		t.Errorf("ended by %q reason %q", v.EndedBy, v.EndReason)
	}
	if err := h.sim.AgentSend(st.s.ID, "x"); !errors.Is(err, lasim.ErrState) {
		t.Errorf("agent send after end: %v", err)
	}
	if _, err := h.client.Messages(h.ctx, st.s, st.ack); statusOf(err) != 403 {
		t.Errorf("poll after ChatEnd: %v", err)
	}
	if err := h.client.ChatEnd(h.ctx, st.s, st.next(), ""); statusOf(err) != 403 {
		t.Errorf("second ChatEnd: %v", err)
	}
}

func TestDeleteSession(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	if err := h.client.DeleteSession(h.ctx, st.s); err != nil {
		t.Fatal(err)
	}
	v := h.waitChat(st, "end", func(v lasim.ChatView) bool { return v.Ended() })
	if v.EndReason != "deleted" {
		t.Errorf("reason %q", v.EndReason)
	}
	if err := h.client.DeleteSession(h.ctx, st.s); statusOf(err) != 403 {
		t.Errorf("second delete: %v", err)
	}
}

func TestVisitorTypingVisibleToAgent(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	if err := h.client.ChasitorTyping(h.ctx, st.s, st.next()); err != nil {
		t.Fatal(err)
	}
	h.waitChat(st, "typing", func(v lasim.ChatView) bool { return v.VisitorTyping })
	if err := h.client.ChasitorSneakPeek(h.ctx, st.s, st.next(), 3, "hel"); err != nil {
		t.Fatal(err)
	}
	h.waitChat(st, "sneak peek", func(v lasim.ChatView) bool { return v.SneakPeek == "hel" })
	if err := h.client.ChasitorNotTyping(h.ctx, st.s, st.next()); err != nil {
		t.Fatal(err)
	}
	h.waitChat(st, "not typing", func(v lasim.ChatView) bool { return !v.VisitorTyping })
	if err := h.client.CustomEvent(h.ctx, st.s, st.next(), "PromptForCreditCard", "Visa"); err != nil {
		t.Fatal(err)
	}
	h.waitChat(st, "custom event", func(v lasim.ChatView) bool {
		return len(v.CustomEvents) == 1 && v.CustomEvents[0].Data == "Visa"
	})
}

func TestQueueTransferDisconnectAndFail(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.start("a")
	h.pollTypes(st)
	if err := h.sim.SetQueuePosition(st.s.ID, 3, 45); err != nil {
		t.Fatal(err)
	}
	m := h.poll(st)
	if qu := decode[liveagent.QueueUpdate](t, m.Messages[0]); qu.Position != 3 || qu.EstimatedWaitTime != 45 {
		t.Errorf("QueueUpdate = %+v", qu)
	}
	if err := h.sim.Accept(st.s.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Transfer(st.s.ID, "Second Agent"); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SendCustomEvent(st.s.ID, "Note", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Disconnect(st.s.ID); err != nil {
		t.Fatal(err)
	}
	m = h.poll(st)
	if got := types(m); !equal(got, []string{"ChatEstablished", "ChatTransferred", "CustomEvent", "AgentDisconnect"}) {
		t.Fatalf("types = %v", got)
	}
	if tr := decode[liveagent.ChatTransferred](t, m.Messages[1]); tr.Name != "Second Agent" || !strings.HasPrefix(tr.UserID, "005") {
		t.Errorf("ChatTransferred = %+v", tr)
	}
	if ce := decode[liveagent.CustomEvent](t, m.Messages[2]); ce.Type != "Note" || ce.Data != "hello" {
		t.Errorf("CustomEvent = %+v", ce)
	}
	decode[liveagent.AgentDisconnect](t, m.Messages[3])

	// A fresh request that is refused.
	st2 := h.start("b")
	if err := h.sim.Fail(st2.s.ID, "Blocked"); err != nil {
		t.Fatal(err)
	}
	m = h.poll(st2)
	if got := types(m); !equal(got, []string{"ChatRequestSuccess", "ChatRequestFail"}) {
		t.Fatalf("types = %v", got)
	}
	if f := decode[liveagent.ChatRequestFail](t, m.Messages[1]); f.Reason != "Blocked" || f.AttachedRecords == nil {
		t.Errorf("ChatRequestFail = %+v", f)
	}
	if _, err := h.client.Messages(h.ctx, st2.s, st2.ack); statusOf(err) != 403 {
		t.Errorf("poll after fail: %v", err)
	}
}

func TestFileTransfer(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	fr, err := h.sim.RequestFile(st.s.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := h.poll(st)
	ft := decode[liveagent.FileTransfer](t, m.Messages[0])
	if ft.Type != liveagent.FileTransferRequested || ft.FileToken != fr.FileToken ||
		!strings.HasPrefix(ft.UploadServletURL, h.srv.URL) || !strings.HasPrefix(ft.CdmServletURL, h.srv.URL) {
		t.Fatalf("FileTransfer = %+v (srv %s)", ft, h.srv.URL)
	}
	content := strings.Repeat("\x89PNG fake image ", 1000)
	if err := h.client.UploadFile(h.ctx, st.s, ft, "photo 1.png", "image/png", strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	v := h.waitChat(st, "uploaded file", func(v lasim.ChatView) bool { return len(v.Files) == 1 })
	if f := v.Files[0]; f.Name != "photo 1.png" || f.ContentType != "image/png" || f.Size != int64(len(content)) {
		t.Errorf("file = %+v", f)
	}
	_, data, err := h.sim.File(st.s.ID, 0)
	if err != nil || string(data) != content {
		t.Errorf("file content mismatch (%v)", err)
	}
	m = h.poll(st)
	if ok := decode[liveagent.FileTransfer](t, m.Messages[0]); ok.Type != liveagent.FileTransferSuccess {
		t.Errorf("after upload: %+v", ok)
	}

	// The upload request as the servlet saw it.
	var rec *lasim.RequestRecord
	for _, r := range h.sim.Requests() {
		if r.Kind == "upload" {
			rec = &r
		}
	}
	if rec == nil {
		t.Fatal("no upload request recorded")
	}
	for _, want := range []string{"orgId=" + testOrg, "chatKey=" + st.s.ID, "fileToken=" + ft.FileToken, "encoding=UTF-8"} {
		if !strings.Contains(rec.Query, want) {
			t.Errorf("upload query %q lacks %q", rec.Query, want)
		}
	}
	if rec.Header.Get("Referer") != ft.CdmServletURL || !strings.HasPrefix(rec.Header.Get("Content-Type"), "multipart/form-data") {
		t.Errorf("upload headers %v", rec.Header)
	}

	// A used token is refused.
	err = h.client.UploadFile(h.ctx, st.s, ft, "again.png", "image/png", strings.NewReader("x"))
	if statusOf(err) != 400 {
		t.Errorf("second upload with the same token: %v", err)
	}
	// So is an unknown one.
	bad := ft
	bad.FileToken = "nope"
	if err := h.client.UploadFile(h.ctx, st.s, bad, "x.png", "", strings.NewReader("x")); statusOf(err) != 403 {
		t.Errorf("unknown token: %v", err)
	}
}

func TestAvailability(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	res, err := h.client.Availability(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].ID != testButton || !res[0].IsAvailable || res[0].EstimatedWaitTime <= 0 {
		t.Fatalf("availability = %+v", res)
	}
	h.sim.SetAvailability("573other", false)
	res, err = h.client.Availability(h.ctx, testButton, "573other")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].IsAvailable || res[1].IsAvailable || res[1].ID != "573other" {
		t.Fatalf("availability = %+v", res)
	}

	// Offline button: the chat request fails with Unavailable.
	h.sim.SetAvailability("", false)
	st := h.start("a")
	m := h.poll(st)
	if f := decode[liveagent.ChatRequestFail](t, m.Messages[0]); f.Reason != "Unavailable" {
		t.Errorf("fail = %+v", f)
	}

	// Wrong org: SwitchServer.
	other := liveagent.NewClient(liveagent.Config{Host: h.srv.URL, OrgID: "00Dother", DeploymentID: "572", ButtonID: "573"}, nil)
	_, err = other.Availability(h.ctx)
	var sw *liveagent.SwitchServerError
	if !errors.Is(err, liveagent.ErrSwitchServer) || !errors.As(err, &sw) || !strings.HasSuffix(sw.NewURL, "/chat") {
		t.Errorf("wrong org: %v", err)
	}
}

func TestInjectedFaults(t *testing.T) {
	for _, tc := range []struct {
		status    int
		sentinel  error
		temporary bool
	}{
		{409, liveagent.ErrDuplicatePoll, false},
		{429, liveagent.ErrRateLimited, true},
		{500, liveagent.ErrServer, true},
		{502, liveagent.ErrUpstream, true},
		{504, liveagent.ErrUpstream, true},
		{400, liveagent.ErrBadRequest, false},
	} {
		t.Run(strings.ReplaceAll(tc.sentinel.Error(), " ", "_"), func(t *testing.T) {
			h := newHarness(t, lasim.Options{})
			st := h.established("a")
			if err := h.sim.InjectFault(lasim.Fault{Kind: "chatMessage", Status: tc.status, Count: 2}); err != nil {
				t.Fatal(err)
			}
			seq := st.next()
			for i := range 2 {
				err := h.client.ChatMessage(h.ctx, st.s, seq, "retry me")
				if statusOf(err) != tc.status || !errors.Is(err, tc.sentinel) || liveagent.Temporary(err) != tc.temporary {
					t.Fatalf("attempt %d: %v (temporary=%v)", i, err, liveagent.Temporary(err))
				}
			}
			if err := h.client.ChatMessage(h.ctx, st.s, seq, "retry me"); err != nil {
				t.Fatalf("third attempt: %v", err)
			}
			v := h.waitChat(st, "message", func(v lasim.ChatView) bool { return v.LastVisitorMessage() == "retry me" })
			if v.Counters.FaultsServed != 2 || v.Ended() {
				t.Errorf("faults served %d, ended %v", v.Counters.FaultsServed, v.Ended())
			}
		})
	}
}

func TestFirstSequenceOne(t *testing.T) {
	h := newHarness(t, lasim.Options{FirstSequence: 1})
	st := h.start("a")
	if m := h.poll(st); m.Sequence != 1 {
		t.Fatalf("first sequence = %d, want 1", m.Sequence)
	}
}

func TestConcurrentChats(t *testing.T) {
	h := newHarness(t, lasim.Options{AutoReply: true, AutoAccept: time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			s, err := h.client.SessionID(h.ctx)
			if err != nil {
				errs <- err
				return
			}
			if err := h.client.ChasitorInit(h.ctx, s, 1, liveagent.ChasitorInit{VisitorName: "v"}); err != nil {
				errs <- err
				return
			}
			ack, sent := int64(-1), false
			for range 20 {
				m, err := h.client.Messages(h.ctx, s, ack)
				if err != nil {
					errs <- err
					return
				}
				if m == nil {
					continue
				}
				ack = m.Sequence
				for _, msg := range m.Messages {
					switch msg.Type {
					case liveagent.TypeChatEstablished:
						if err := h.client.ChatMessage(h.ctx, s, 2, "hi"); err != nil {
							errs <- err
							return
						}
						sent = true
					case liveagent.TypeChatMessage:
						if !sent {
							errs <- errors.New("echo before message")
						}
						errs <- h.client.ChatEnd(h.ctx, s, 3, "")
						return
					}
				}
			}
			errs <- errors.New("no echo")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
