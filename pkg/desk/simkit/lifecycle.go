package simkit

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Lifecycle is the running state that a simulator shares with its handlers, waits and
// background goroutines: whether it is closed, the goroutines [Lifecycle.Close] waits for, and
// the wake-ups of its scheduler. Create it with [NewLifecycle].
type Lifecycle struct {
	closedErr error
	done      chan struct{}
	kick      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewLifecycle returns a running lifecycle. closedErr is what [Lifecycle.Wait] returns once the
// simulator is closed (the simulator's ErrClosed).
func NewLifecycle(closedErr error) *Lifecycle {
	return &Lifecycle{closedErr: closedErr, done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// Done is closed by [Lifecycle.Close]: handlers that hold requests (long polls, streams) select
// on it to end at once.
func (l *Lifecycle) Done() <-chan struct{} { return l.done }

// Closed reports whether [Lifecycle.Close] was called.
func (l *Lifecycle) Closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Close closes [Lifecycle.Done] and waits for the functions started with [Lifecycle.Go] to
// return. It is idempotent.
func (l *Lifecycle) Close() {
	l.closeOnce.Do(func() { close(l.done) })
	l.wg.Wait()
}

// Go runs fn in a goroutine that [Lifecycle.Close] waits for; fn should return soon after
// [Lifecycle.Done] is closed.
func (l *Lifecycle) Go(fn func()) {
	l.wg.Go(fn)
}

// Wake makes [Lifecycle.Schedule] run its tick now (when a change brings the next due work
// forward). It never blocks; wake-ups before the tick runs are merged.
func (l *Lifecycle) Wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Schedule runs tick now, then again after the delay tick returns or at the next
// [Lifecycle.Wake], whichever comes first, until the lifecycle is closed. tick does the due
// work (taking the simulator's lock itself) and returns the delay until the next. Schedule
// blocks: run it with [Lifecycle.Go].
func (l *Lifecycle) Schedule(tick func() time.Duration) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		t.Reset(tick())
		select {
		case <-l.done:
			return
		case <-t.C:
		case <-l.kick:
		}
	}
}

// Guard returns a handler that answers 503 "simulator closed" once the lifecycle is closed,
// and passes requests to h before.
func (l *Lifecycle) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Closed() {
			http.Error(w, "simulator closed", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Wait blocks until changed (from [Changes.Changed]) is closed, and returns nil. If ctx ends
// first it returns ctx's error, wrapped as "<what>: <error>" unless what is empty; if the
// lifecycle is closed first, the closed error given to [NewLifecycle].
func (l *Lifecycle) Wait(ctx context.Context, changed <-chan struct{}, what string) error {
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		if what == "" {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", what, ctx.Err())
	case <-l.done:
		return l.closedErr
	}
}

// Changes notifies waiters of changes to a simulator's state, so that they can wait for a
// condition without polling or sleeping. The zero value is ready to use.
//
// A waiter takes the state it tests and [Changes.Changed] together, under the simulator's
// lock; if the state does not satisfy it, it waits for that channel to close (see
// [Lifecycle.Wait]) and tests again. Whoever changes the state calls [Changes.Notify] under the
// same lock, so no change is missed.
type Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// Changed returns a channel that the next [Changes.Notify] closes.
func (c *Changes) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify wakes every waiter: it closes the channel that [Changes.Changed] returned, and later
// calls of Changed return a new one.
func (c *Changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// WaitFor blocks until one of the values that snapshot returns satisfies cond, and returns the
// first that does. snapshot returns the values (e.g. every chat's view) together with
// [Changes.Changed], taken under the simulator's lock; cond runs without it, on the values
// of every change. Errors are those of [Lifecycle.Wait].
func WaitFor[V any](ctx context.Context, l *Lifecycle, what string, snapshot func() ([]V, <-chan struct{}), cond func(V) bool) (V, error) {
	for {
		vs, changed := snapshot()
		for _, v := range vs {
			if cond(v) {
				return v, nil
			}
		}
		if err := l.Wait(ctx, changed, what); err != nil {
			var zero V
			return zero, err
		}
	}
}
