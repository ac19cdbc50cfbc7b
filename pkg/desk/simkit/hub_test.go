package simkit

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFormatEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"named", Event{Name: "chat.updated", Data: []byte(`{"a":1}`)}, "event: chat.updated\ndata: {\"a\":1}\n\n"},
		{"default type", Event{Data: []byte("x")}, "data: x\n\n"},
		{"multi-line", Event{Name: "n", Data: []byte("a\nb")}, "event: n\ndata: a\ndata: b\n\n"},
		{"empty data", Event{Name: "n"}, "event: n\ndata: \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			formatEvent(&b, tt.ev)
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

func TestHubBroadcastAndDrop(t *testing.T) {
	h := &Hub{Buffer: 2}
	fast, slow := h.Subscribe(), h.Subscribe()
	if n := h.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers", n)
	}
	h.Broadcast(Event{Name: "1"})
	if ev := <-fast.Events(); ev.Name != "1" {
		t.Fatalf("fast got %q", ev.Name)
	}
	h.Broadcast(Event{Name: "2"})
	h.Broadcast(Event{Name: "3"}) // slow is full: dropped
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after the drop, want 1", n)
	}
	var got []string
	for ev := range slow.Events() { // closed after what was queued
		got = append(got, ev.Name)
	}
	if strings.Join(got, ",") != "1,2" {
		t.Errorf("slow got %v", got)
	}
	slow.Cancel() // after a drop: no-op
	fast.Cancel()
	fast.Cancel()
	if n := h.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after Cancel", n)
	}
}

func TestHubBroadcastJSON(t *testing.T) {
	var h Hub
	calls := 0
	value := func(v any) func() any {
		return func() any { calls++; return v }
	}
	h.BroadcastJSON("none", value(1))
	if calls != 0 {
		t.Fatal("value built without subscribers")
	}
	sub := h.Subscribe()
	defer sub.Cancel()
	h.BroadcastJSON("bad", value(make(chan int))) // does not encode: not sent
	h.BroadcastJSON("ok", value(map[string]string{"a": "<b>"}))
	ev := <-sub.Events()
	if ev.Name != "ok" || string(ev.Data) != `{"a":"\u003cb\u003e"}` || calls != 2 {
		t.Errorf("event %q %s after %d calls", ev.Name, ev.Data, calls)
	}
}

// stream is the client side of a served stream.
type stream struct {
	res   *http.Response
	lines *bufio.Scanner
}

// newServer returns a started test server whose handler subscribes to h (then calls before,
// if not nil) and serves the stream with the initial events. done is closed when the handler
// returned. The server is closed at the end of the test, after the streams.
func newServer(t *testing.T, h *Hub, writeTimeout time.Duration, before func(*Subscription), initial ...Event) (srv *httptest.Server, done <-chan struct{}) {
	t.Helper()
	d := make(chan struct{})
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(d)
		sub := h.Subscribe()
		if before != nil {
			before(sub)
		}
		h.Serve(w, r, sub, initial...)
	}))
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, d
}

// open opens a stream of srv; its body is closed at the end of the test.
func open(t *testing.T, ctx context.Context, srv *httptest.Server) *stream {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return &stream{res: res, lines: bufio.NewScanner(res.Body)}
}

// next returns the next line, or false at the end of the stream.
func (s *stream) next(t *testing.T) (string, bool) {
	t.Helper()
	if !s.lines.Scan() {
		return "", false
	}
	return s.lines.Text(), true
}

// expect reads the lines want.
func (s *stream) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		got, ok := s.next(t)
		if !ok || got != w {
			t.Fatalf("line %q (ok %t), want %q", got, ok, w)
		}
	}
}

func TestHubServe(t *testing.T) {
	h := &Hub{}
	srv, _ := newServer(t, h, 0, nil, Event{Name: "snapshot", Data: []byte(`{"n":0}`)}, Event{Name: "more", Data: []byte("1")})
	s := open(t, context.Background(), srv)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := s.res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if s.res.StatusCode != 200 {
		t.Errorf("status %d", s.res.StatusCode)
	}
	s.expect(t, "retry: 2000", "event: snapshot", `data: {"n":0}`, "", "event: more", "data: 1", "")
	// Subscribed before the headers were sent.
	h.Broadcast(Event{Name: "chat.created", Data: []byte(`{"id":"a"}`)})
	h.Broadcast(Event{Name: "chat.ended", Data: []byte(`{"id":"a"}`)})
	s.expect(t, "event: chat.created", `data: {"id":"a"}`, "", "event: chat.ended", `data: {"id":"a"}`, "")
}

func TestHubServeOptions(t *testing.T) {
	h := &Hub{Retry: 1500 * time.Millisecond, Ping: time.Millisecond}
	srv, _ := newServer(t, h, 0, nil)
	s := open(t, context.Background(), srv)
	s.expect(t, "retry: 1500", "") // no initial events
	s.expect(t, ": ping", "")
}

func TestHubServeEnds(t *testing.T) {
	tests := []struct {
		name   string
		before func(h *Hub) func(*Subscription)
		end    func(h *Hub, cancel context.CancelFunc)
	}{
		{name: "hub closed", end: func(h *Hub, _ context.CancelFunc) { h.Close() }},
		{name: "request context", end: func(_ *Hub, cancel context.CancelFunc) { cancel() }},
		{name: "subscriber dropped", before: func(h *Hub) func(*Subscription) {
			return func(*Subscription) {
				h.Broadcast(Event{Name: "queued"})
				h.Broadcast(Event{Name: "dropped"}) // the queue (1) is full: dropped
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Hub{Buffer: 1}
			var before func(*Subscription)
			if tt.before != nil {
				before = tt.before(h)
			}
			srv, done := newServer(t, h, 0, before, Event{Name: "snapshot"})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := open(t, ctx, srv)
			s.expect(t, "retry: 2000", "event: snapshot", "data: ", "")
			if tt.end != nil {
				if n := h.Subscribers(); n != 1 {
					t.Fatalf("%d subscribers", n)
				}
				tt.end(h, cancel)
			} else {
				s.expect(t, "event: queued", "data: ", "")
			}
			<-done
			if n := h.Subscribers(); n != 0 {
				t.Errorf("%d subscribers after the stream ended", n)
			}
			if ctx.Err() == nil {
				if rest, err := io.ReadAll(s.res.Body); err != nil || len(rest) > 0 {
					t.Errorf("stream end: %q, %v", rest, err)
				}
			}
		})
	}
}

func TestHubServeAfterClose(t *testing.T) {
	h := &Hub{}
	h.Close()
	h.Close() // idempotent
	srv, done := newServer(t, h, 0, nil, Event{Name: "snapshot"})
	s := open(t, context.Background(), srv)
	<-done
	b, _ := io.ReadAll(s.res.Body)
	if string(b) != "retry: 2000\nevent: snapshot\ndata: \n\n" {
		t.Errorf("body %q", b)
	}
}

// TestHubLiftsWriteDeadline: a stream outlives the server's WriteTimeout.
func TestHubLiftsWriteDeadline(t *testing.T) {
	const timeout = 50 * time.Millisecond
	h := &Hub{Ping: 5 * time.Millisecond}
	srv, _ := newServer(t, h, timeout, nil)
	start := time.Now()
	s := open(t, context.Background(), srv)
	s.expect(t, "retry: 2000", "")
	for time.Since(start) < 4*timeout {
		s.expect(t, ": ping", "")
	}
}
