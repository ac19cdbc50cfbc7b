package liveagent_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
)

const (
	testOrg        = "00D5j000000TEST"
	testDeployment = "5725j000000TEST"
	testButton     = "5735j000000TEST"
)

// harness is a simulator behind an httptest server and a client pointed at it.
type harness struct {
	t      *testing.T
	sim    *lasim.Sim
	srv    *httptest.Server
	client *liveagent.Client
	ctx    context.Context
}

func newHarness(t *testing.T, opts lasim.Options) *harness {
	t.Helper()
	if opts.HoldTime == 0 {
		opts.HoldTime = 5 * time.Second // long enough that tests rely on events, not on 204s
	}
	if opts.OrgID == "" {
		opts.OrgID = testOrg
	}
	sim := lasim.New(opts)
	srv := httptest.NewServer(sim)
	// Cleanups run last-in first-out: close the sim (releasing holding polls) before the server.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sim.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	c := liveagent.NewClient(liveagent.Config{
		Host:         srv.URL + "/chat/", // trailing "/chat/" is tolerated
		OrgID:        testOrg,
		DeploymentID: testDeployment,
		ButtonID:     testButton,
	}, srv.Client())
	return &harness{t: t, sim: sim, srv: srv, client: c, ctx: ctx}
}

// chatState is one visitor's view: session, POST sequence, ack.
type chatState struct {
	s   liveagent.Session
	seq int64
	ack int64
}

func (st *chatState) next() int64 { st.seq++; return st.seq }

// start creates a session and requests a chat; it returns after the ChasitorInit.
func (h *harness) start(visitor string) *chatState {
	h.t.Helper()
	s, err := h.client.SessionID(h.ctx)
	if err != nil {
		h.t.Fatalf("SessionID: %v", err)
	}
	st := &chatState{s: s, ack: -1}
	err = h.client.ChasitorInit(h.ctx, s, st.next(), liveagent.ChasitorInit{
		VisitorName: visitor,
		PrechatDetails: []liveagent.PrechatDetail{{
			Label: "ContactLineId", Value: "U0123456789abcdef", DisplayToAgent: true,
		}},
	})
	if err != nil {
		h.t.Fatalf("ChasitorInit: %v", err)
	}
	return st
}

// poll runs one Messages poll and advances the ack on a 200.
func (h *harness) poll(st *chatState) *liveagent.Messages {
	h.t.Helper()
	m, err := h.client.Messages(h.ctx, st.s, st.ack)
	if err != nil {
		h.t.Fatalf("Messages(ack=%d): %v", st.ack, err)
	}
	if m != nil {
		st.ack = m.Sequence
	}
	return m
}

// pollTypes polls until a 200 and returns its message types.
func (h *harness) pollTypes(st *chatState) []string {
	h.t.Helper()
	for range 5 {
		if m := h.poll(st); m != nil {
			return types(m)
		}
	}
	h.t.Fatal("no 200 payload after 5 polls")
	return nil
}

// established runs start, the first poll, accept, and the poll that gets ChatEstablished.
func (h *harness) established(visitor string) *chatState {
	h.t.Helper()
	st := h.start(visitor)
	if got := h.pollTypes(st); !equal(got, []string{liveagent.TypeChatRequestSuccess}) {
		h.t.Fatalf("first payload = %v, want [ChatRequestSuccess]", got)
	}
	if err := h.sim.Accept(st.s.ID); err != nil {
		h.t.Fatalf("Accept: %v", err)
	}
	if got := h.pollTypes(st); !equal(got, []string{liveagent.TypeChatEstablished}) {
		h.t.Fatalf("payload after accept = %v, want [ChatEstablished]", got)
	}
	return st
}

// waitChat waits for a condition on the chat of st.
func (h *harness) waitChat(st *chatState, what string, cond func(lasim.ChatView) bool) lasim.ChatView {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	v, err := h.sim.WaitChat(ctx, st.s.ID, cond)
	if err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

func types(m *liveagent.Messages) []string {
	if m == nil {
		return nil
	}
	out := make([]string, len(m.Messages))
	for i, msg := range m.Messages {
		out[i] = msg.Type
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// statusOf returns the status of a *liveagent.StatusError in err, or 0.
func statusOf(err error) int {
	if se, ok := errors.AsType[*liveagent.StatusError](err); ok {
		return se.StatusCode
	}
	return 0
}

func decode[T any](t *testing.T, m liveagent.Message) T {
	t.Helper()
	v, err := m.Decode()
	if err != nil {
		t.Fatalf("Decode %s: %v", m.Type, err)
	}
	p, ok := v.(T)
	if !ok {
		t.Fatalf("Decode %s = %T, want %T", m.Type, v, *new(T))
	}
	return p
}
