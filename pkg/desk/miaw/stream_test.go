package miaw_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// recorder collects what a stream reports.
type recorder struct {
	mu       sync.Mutex
	connects []bool // first?
	events   []miaw.StreamEvent
	errs     []error
	changed  chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) bump() { close(r.changed); r.changed = make(chan struct{}) }

func (r *recorder) options(last string) miaw.StreamOptions {
	return miaw.StreamOptions{
		LastEventID: last,
		OnConnect: func(ctx context.Context, first bool) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.connects = append(r.connects, first)
			r.bump()
			return nil
		},
		OnEvent: func(e miaw.StreamEvent) { r.mu.Lock(); r.events = append(r.events, e); r.bump(); r.mu.Unlock() },
		OnError: func(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.bump(); r.mu.Unlock() },
	}
}

func (r *recorder) wait(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok, ch := cond(r), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s: connects %v, %d events, errors %v", what, r.connects, len(r.events), r.errs)
		}
	}
}

// headerLog records the headers of event stream requests.
type headerLog struct {
	mu   sync.Mutex
	reqs []http.Header
	next http.Handler
}

func (h *headerLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/eventrouter/v1/sse" {
		h.mu.Lock()
		h.reqs = append(h.reqs, r.Header.Clone())
		h.mu.Unlock()
	}
	h.next.ServeHTTP(w, r)
}

func (h *headerLog) all() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

func TestStreamReconnectsWithLastEventID(t *testing.T) {
	f := newFixture(t)
	hl := &headerLog{next: f.sim}
	srv := httptest.NewServer(hl)
	defer srv.Close()
	cfg := f.config(false)
	cfg.URL = srv.URL
	c := f.clientWith(cfg)
	u := miaw.User{ID: "Ustream"}
	tok, err := c.Token(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	conv := miaw.ConversationID("4e5f6071-8293-4a4b-9c5d-6e7f8091a2b3")
	if err := c.CreateConversation(ctxT(t), u, conv, nil); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s := c.OpenStream(context.Background(), u, rec.options(tok.LastEventID))
	defer s.Close()
	rec.wait(t, "connected", func(r *recorder) bool { return len(r.connects) == 1 })
	_ = f.sim.Accept(string(conv))
	_ = f.sim.AgentSend(string(conv), "hello")
	// Unknown event types are passed on (the caller ignores them); heartbeats are not.
	_ = f.sim.SendRawEvent(string(conv), miawsim.RawEvent{Type: "CONVERSATION_STREAMING_TOKEN", EntryType: "StreamingToken"})
	rec.wait(t, "three events", func(r *recorder) bool { return len(r.events) == 3 })
	rec.mu.Lock()
	types := []string{rec.events[0].Type, rec.events[1].Type, rec.events[2].Type}
	lastID := rec.events[2].ID
	rec.mu.Unlock()
	if !slices.Equal(types, []string{miaw.EventParticipantChanged, miaw.EventMessage, "CONVERSATION_STREAMING_TOKEN"}) {
		t.Fatalf("types = %v", types)
	}
	d, err := rec.events[1].Decode()
	if err != nil || d.ConversationID != conv || d.ConversationEntry.Sender.Role != miaw.RoleAgent {
		t.Fatalf("decoded %+v: %v", d, err)
	}
	if s.LastEventID() != lastID {
		t.Fatalf("LastEventID = %q, want %q", s.LastEventID(), lastID)
	}
	_ = f.sim.DropStreams(string(conv))
	rec.wait(t, "reconnected", func(r *recorder) bool { return len(r.connects) == 2 })
	rec.mu.Lock()
	if !slices.Equal(rec.connects, []bool{true, false}) || len(rec.errs) == 0 {
		t.Fatalf("connects %v, errors %v", rec.connects, rec.errs)
	}
	rec.mu.Unlock()
	hs := hl.all()
	if len(hs) < 2 {
		t.Fatalf("%d stream requests", len(hs))
	}
	for i, h := range hs {
		if h.Get("X-Org-Id") != testOrg || !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("Accept") != "text/event-stream" {
			t.Fatalf("request %d headers %v", i, h)
		}
	}
	if hs[0].Get("Last-Event-Id") != tok.LastEventID || hs[1].Get("Last-Event-Id") != lastID {
		t.Fatalf("Last-Event-Id = %q then %q, want %q then %q", hs[0].Get("Last-Event-Id"), hs[1].Get("Last-Event-Id"), tok.LastEventID, lastID)
	}
	s.Close()
	select {
	case <-s.Done():
	default:
		t.Fatal("Close returned before the stream stopped")
	}
	if !errors.Is(s.Err(), context.Canceled) {
		t.Fatalf("Err after Close = %v", s.Err())
	}
}

// Silence beyond SilenceTimeout (no heartbeat) is a dead connection: reconnect.
func TestStreamSilenceIsDead(t *testing.T) {
	f := newFixture(t, func(o *miawsim.Options) { o.HeartbeatInterval = time.Hour })
	cfg := f.config(false)
	cfg.SilenceTimeout = 150 * time.Millisecond
	c := f.clientWith(cfg)
	rec := newRecorder()
	s := c.OpenStream(context.Background(), miaw.User{ID: "Usilent"}, rec.options(""))
	defer s.Close()
	rec.wait(t, "a silence error and a reconnect", func(r *recorder) bool {
		return len(r.connects) >= 2 && slices.ContainsFunc(r.errs, func(e error) bool { return errors.Is(e, miaw.ErrStreamSilent) })
	})
}

// Heartbeats keep a quiet stream alive.
func TestStreamHeartbeatsKeepAlive(t *testing.T) {
	f := newFixture(t, func(o *miawsim.Options) { o.HeartbeatInterval = 20 * time.Millisecond })
	cfg := f.config(false)
	cfg.SilenceTimeout = 200 * time.Millisecond
	c := f.clientWith(cfg)
	rec := newRecorder()
	s := c.OpenStream(context.Background(), miaw.User{ID: "Ualive"}, rec.options(""))
	defer s.Close()
	rec.wait(t, "connected", func(r *recorder) bool { return len(r.connects) == 1 })
	// A negative check: for three silence timeouts nothing may happen, so there is no
	// condition to await, only time to let pass.
	time.Sleep(3 * cfg.SilenceTimeout)
	if st := f.sim.Stats(); st.StreamConnects != 1 || st.StreamsOpen != 1 {
		t.Fatalf("stats %+v: the stream was reconnected", st)
	}
	if up, n, _ := s.Status(); !up || n != 1 {
		t.Fatalf("connected %v, %d connections", up, n)
	}
}

// A guest stream whose token expired stops (the token cannot be renewed); an authenticated one
// mints a new token and goes on.
func TestStreamTokenExpiry(t *testing.T) {
	f := newFixture(t)
	g := f.client(true)
	tok, err := g.UnauthenticatedToken(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	grec := newRecorder()
	gs := g.OpenStream(context.Background(), miaw.User{Token: tok.AccessToken}, grec.options(""))
	defer gs.Close()
	a := f.client(false)
	arec := newRecorder()
	as := a.OpenStream(context.Background(), miaw.User{ID: "Uexpiry"}, arec.options(""))
	defer as.Close()
	grec.wait(t, "guest connected", func(r *recorder) bool { return len(r.connects) == 1 })
	arec.wait(t, "authenticated connected", func(r *recorder) bool { return len(r.connects) == 1 })
	f.sim.ExpireTokens()
	select {
	case <-gs.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("guest stream did not stop")
	}
	if !errors.Is(gs.Err(), miaw.ErrUnauthorized) {
		t.Fatalf("guest stream stopped with %v", gs.Err())
	}
	arec.wait(t, "authenticated reconnected", func(r *recorder) bool { return len(r.connects) == 2 })
	if n := f.sim.Stats().TokensAuthenticated; n != 2 {
		t.Fatalf("%d authenticated tokens, want 2", n)
	}
}

// A failing OnConnect (backfill) drops the connection; it is retried with backoff.
func TestStreamOnConnectFailureRetries(t *testing.T) {
	f := newFixture(t)
	c := f.client(false)
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	s := c.OpenStream(context.Background(), miaw.User{ID: "Uretry"}, miaw.StreamOptions{
		OnConnect: func(ctx context.Context, first bool) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			switch {
			case calls < 3 && !first:
				t.Errorf("call %d: first = false before a connection succeeded", calls)
			case calls < 3:
				return errors.New("backfill failed")
			case calls == 3:
				close(done)
			}
			return nil
		},
	})
	defer s.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no successful connection after OnConnect failures")
	}
	// The server also failing: 503 on the stream, then success.
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "sse", Status: 503, Count: 2})
	_ = f.sim.DropStreams("")
	f.waitStats("reconnected after 503s", func(st miawsim.Stats) bool { return st.FaultsServed == 2 && st.StreamsOpen == 1 })
}
