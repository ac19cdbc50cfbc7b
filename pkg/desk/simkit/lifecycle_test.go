package simkit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

var errClosed = errors.New("test: closed")

func TestLifecycleClose(t *testing.T) {
	l := NewLifecycle(errClosed)
	if l.Closed() {
		t.Fatal("closed at start")
	}
	stopped := false
	l.Go(func() {
		<-l.Done()
		stopped = true
	})
	l.Close()
	if !l.Closed() || !stopped { // Close waited for the goroutine (no race on stopped)
		t.Fatalf("closed %t, goroutine stopped %t", l.Closed(), stopped)
	}
	l.Close() // idempotent
}

func TestLifecycleGuard(t *testing.T) {
	l := NewLifecycle(errClosed)
	h := l.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec
	}
	if rec := get(); rec.Code != http.StatusTeapot {
		t.Errorf("open: %d", rec.Code)
	}
	l.Close()
	if rec := get(); rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "simulator closed\n" {
		t.Errorf("closed: %d %q", rec.Code, rec.Body)
	}
}

func TestLifecycleSchedule(t *testing.T) {
	l := NewLifecycle(errClosed)
	ticks := make(chan int)
	n := 0
	delay := time.Hour // until woken
	l.Go(func() {
		l.Schedule(func() time.Duration {
			d := delay // read before the tick is reported: ordered with the writes below
			n++
			ticks <- n
			return d
		})
	})
	if got := <-ticks; got != 1 {
		t.Fatalf("first tick %d", got)
	}
	l.Wake()
	if got := <-ticks; got != 2 {
		t.Fatalf("tick after Wake %d", got)
	}
	delay = time.Millisecond
	l.Wake()
	for want := 3; want <= 5; want++ { // then on the timer
		if got := <-ticks; got != want {
			t.Fatalf("tick %d, want %d", got, want)
		}
	}
	go func() {
		for range ticks { // let a tick in progress finish
		}
	}()
	l.Close() // returns: Schedule ended
	close(ticks)
}

func TestLifecycleWait(t *testing.T) {
	closedCh := make(chan struct{})
	close(closedCh)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		changed <-chan struct{}
		closed  bool
		what    string
		want    error  // errors.Is
		wantMsg string // "" = nil error
	}{
		{name: "changed", ctx: context.Background(), changed: closedCh},
		{name: "context", ctx: canceled, changed: make(chan struct{}), what: "test: wait", want: context.Canceled, wantMsg: "test: wait: context canceled"},
		{name: "context bare", ctx: canceled, changed: make(chan struct{}), want: context.Canceled, wantMsg: "context canceled"},
		{name: "closed", ctx: context.Background(), changed: make(chan struct{}), closed: true, what: "test: wait", want: errClosed, wantMsg: "test: closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLifecycle(errClosed)
			if tt.closed {
				l.Close()
			}
			err := l.Wait(tt.ctx, tt.changed, tt.what)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || err.Error() != tt.wantMsg {
				t.Fatalf("err %v, want %q wrapping %v", err, tt.wantMsg, tt.want)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	var c Changes
	c.Notify() // nobody waiting: fine
	ch := c.Changed()
	if c.Changed() != ch {
		t.Fatal("Changed changed without a Notify")
	}
	select {
	case <-ch:
		t.Fatal("closed before Notify")
	default:
	}
	c.Notify()
	<-ch // closed
	if c.Changed() == ch {
		t.Fatal("same channel after Notify")
	}
}

// counter is a tiny simulator state for WaitFor.
type counter struct {
	mu      sync.Mutex
	values  []int
	changes Changes
}

func (c *counter) add(v int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values = append(c.values, v)
	c.changes.Notify()
}

func (c *counter) snapshot() ([]int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.values...), c.changes.Changed()
}

func TestWaitFor(t *testing.T) {
	l := NewLifecycle(errClosed)
	defer l.Close()
	c := &counter{values: []int{1}}
	evaluated := make(chan int, 100)
	type result struct {
		v   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := WaitFor(context.Background(), l, "test: wait", c.snapshot, func(v int) bool {
			evaluated <- v
			return v > 2
		})
		res <- result{v, err}
	}()
	if v := <-evaluated; v != 1 { // first evaluation: the state as it was
		t.Fatalf("evaluated %d", v)
	}
	c.add(2)
	c.add(3)
	c.add(4)
	if r := <-res; r.err != nil || r.v != 3 {
		t.Fatalf("WaitFor = %d, %v; want the first match, 3", r.v, r.err)
	}

	// Already true: no wait.
	if v, err := WaitFor(context.Background(), l, "test: wait", c.snapshot, func(v int) bool { return v == 1 }); err != nil || v != 1 {
		t.Fatalf("immediate: %d, %v", v, err)
	}

	// Ends with the context and with the lifecycle.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	never := func(int) bool { return false }
	if v, err := WaitFor(ctx, l, "test: wait", c.snapshot, never); !errors.Is(err, context.Canceled) || v != 0 {
		t.Fatalf("canceled: %d, %v", v, err)
	}
	l.Close()
	if _, err := WaitFor(context.Background(), l, "test: wait", c.snapshot, never); err != errClosed {
		t.Fatalf("closed: %v", err)
	}
}
