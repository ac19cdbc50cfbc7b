package bridge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Run drives chats until ctx ends: it adopts every active chat whose lease
// lapsed, renews the leases it holds, and reacts to changes published by
// any instance. On return every runner has stopped and its lease has been
// released, so another instance adopts the chats at once.
func (b *Bridge) Run(ctx context.Context) error {
	defer b.stop()
	wait, err := b.store.Subscribe(ctx, b.changed)
	if err != nil {
		return fmt.Errorf("bridge: run: %w", err)
	}
	scan := time.NewTicker(b.opt.ScanInterval)
	defer scan.Stop()
	renew := time.NewTicker(b.opt.LeaseTTL / 4)
	defer renew.Stop()
	lastRenew := b.opt.Now()
	b.scan(ctx)
	for {
		select {
		case <-ctx.Done():
			b.shutdown()
			_ = wait()
			return nil
		case <-scan.C:
			b.scan(ctx)
		case <-renew.C:
			if b.renew(ctx) {
				lastRenew = b.opt.Now()
			} else if b.opt.Now().Sub(lastRenew) >= b.opt.LeaseTTL/2 {
				// Leases may have lapsed: stop before someone else starts.
				b.log.ErrorContext(ctx, "lease renewal failing; stopping owned chats")
				b.stopAll()
			}
		}
	}
}

func (b *Bridge) scan(ctx context.Context) {
	cs, err := b.store.Orphans(ctx, 256)
	if err != nil {
		if ctx.Err() == nil {
			b.log.WarnContext(ctx, "scan for orphaned chats failed", "err", err)
		}
		return
	}
	for _, c := range cs {
		b.adopt(c)
	}
}

func (b *Bridge) renew(ctx context.Context) bool {
	b.mu.Lock()
	cs := make([]CustomerID, 0, len(b.runners))
	for c := range b.runners {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, b.opt.LeaseTTL/4)
	defer cancel()
	lost, err := b.store.Renew(rctx, b.opt.Owner, cs, b.opt.LeaseTTL)
	if err != nil {
		b.log.WarnContext(ctx, "lease renewal failed", "err", err)
		return false
	}
	for _, c := range lost {
		b.log.WarnContext(ctx, "lease lost", "customer", c)
		b.mu.Lock()
		r := b.runners[c]
		b.mu.Unlock()
		if r != nil {
			r.cancel()
		}
	}
	return true
}

// adopt starts driving c if its lease is free.
func (b *Bridge) adopt(c CustomerID) {
	b.mu.Lock()
	if b.stopped || b.runners[c] != nil {
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.base, b.opt.LeaseTTL/2)
	ok, err := b.store.Acquire(ctx, c, b.opt.Owner, b.opt.LeaseTTL)
	cancel()
	if err != nil || !ok {
		if err != nil {
			b.log.Warn("lease acquire failed", "customer", c, "err", err)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.runners[c] != nil {
		return
	}
	r := newRunner(b, c)
	b.runners[c] = r
	b.opt.Metrics.Owned.Inc()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		released := r.run()
		b.mu.Lock()
		delete(b.runners, c)
		b.mu.Unlock()
		b.opt.Metrics.Owned.Dec()
		if released {
			return
		}
		// The runner stopped with work left (shutdown, lost lease):
		// make the chat adoptable at once if we still hold it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := b.store.Release(ctx, c, b.opt.Owner, true); err != nil {
			b.log.Warn("lease release failed", "customer", c, "err", err)
		}
	}()
}

// changed reacts to a change of c made on another instance: it wakes the
// local requests waiting for c's events and c's local runner, if any.
func (b *Bridge) changed(c CustomerID, what Change) { b.changedWith(c, what, nil) }

// changedWith is changed for a change made here, whose appended events
// (evs) are known.
func (b *Bridge) changedWith(c CustomerID, what Change, evs []Event) {
	if what&ChangedLog != 0 {
		b.hub.notify(c)
	}
	b.mu.Lock()
	r := b.runners[c]
	b.mu.Unlock()
	if r != nil {
		r.poke(what, evs)
	}
}

func (b *Bridge) stopAll() {
	b.mu.Lock()
	for _, r := range b.runners {
		r.cancel()
	}
	b.mu.Unlock()
}

func (b *Bridge) shutdown() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.stopAll()
	b.wg.Wait()
}

// Owned returns the number of customers this instance drives.
func (b *Bridge) Owned() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.runners)
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff returns the delay before retry n (0-based): exponential from
// 100ms, capped, with ±20% jitter.
func backoff(n int, max time.Duration) time.Duration {
	d := 100 * time.Millisecond << min(n, 16)
	if d > max || d <= 0 {
		d = max
	}
	j := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - d/10 + j
}
