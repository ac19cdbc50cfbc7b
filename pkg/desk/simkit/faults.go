package simkit

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// FaultAny is the fault kind that matches calls of every kind.
const FaultAny = "any"

// FaultFields points at the fields of a fault that a [FaultQueue] reads and updates.
type FaultFields struct {
	// Kind is the kind of calls the fault answers (canonicalised when the fault is added).
	Kind *string
	// Status is the status it answers with: 4xx or 5xx.
	Status *int
	// Count is the number of calls still to answer (default 1); the queue decrements it.
	Count *int
	// Target, when not empty, limits the fault to the calls on that object (a chat, a
	// conversation).
	Target *string
}

// FaultQueue holds a simulator's injected faults — each answers the next Count calls of a kind
// (optionally on one object) with an error status instead of serving them — in the order they
// were injected. F is the simulator's fault type; its fields are reached through the function
// given to [NewFaultQueue]. A FaultQueue is safe for concurrent use.
type FaultQueue[F any] struct {
	api     *API
	kinds   []string
	fields  func(*F) FaultFields
	mu      sync.Mutex
	pending []*F
}

// NewFaultQueue returns an empty queue of faults of the kinds (in their canonical spelling,
// [FaultAny] included). api provides the invalid-argument sentinel and the error answers of
// the control handlers.
func NewFaultQueue[F any](api *API, kinds []string, fields func(*F) FaultFields) *FaultQueue[F] {
	return &FaultQueue[F]{api: api, kinds: kinds, fields: fields}
}

// Add validates f and queues it: its kind must be one of the queue's (case-insensitive; it is
// stored in the canonical spelling), its status 4xx or 5xx; a count ≤ 0 means 1. Errors wrap
// [API.Invalid].
func (q *FaultQueue[F]) Add(f F) error {
	ff := q.fields(&f)
	ok := false
	for _, k := range q.kinds {
		if strings.EqualFold(k, *ff.Kind) {
			*ff.Kind, ok = k, true
			break
		}
	}
	if !ok {
		return fmt.Errorf("%w: unknown fault kind %q (one of %s)", q.api.Invalid, *ff.Kind, strings.Join(q.kinds, ", "))
	}
	if *ff.Status < 400 || *ff.Status > 599 {
		return fmt.Errorf("%w: fault status %d is not 4xx or 5xx", q.api.Invalid, *ff.Status)
	}
	if *ff.Count <= 0 {
		*ff.Count = 1
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, &f)
	return nil
}

// List returns the faults still pending, in order (never nil).
func (q *FaultQueue[F]) List() []F {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]F, 0, len(q.pending))
	for _, f := range q.pending {
		out = append(out, *f)
	}
	return out
}

// Clear drops all pending faults.
func (q *FaultQueue[F]) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = nil
}

// Take consumes one call of the first pending fault that matches a call of kind on target
// ("" for calls on no object) and returns it; a fault whose count runs out is removed.
func (q *FaultQueue[F]) Take(kind, target string) (F, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, f := range q.pending {
		ff := q.fields(f)
		if *ff.Kind != FaultAny && *ff.Kind != kind {
			continue
		}
		if *ff.Target != "" && *ff.Target != target {
			continue
		}
		*ff.Count--
		if *ff.Count <= 0 {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
		}
		return *f, true
	}
	var zero F
	return zero, false
}

// HandleList answers GET …/faults: {"faults": [pending faults]}.
func (q *FaultQueue[F]) HandleList(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]any{"faults": q.List()})
}

// HandleAdd answers POST …/faults: it adds the fault of the JSON body and answers 201
// {"faults": [pending faults]}, or the error.
func (q *FaultQueue[F]) HandleAdd(w http.ResponseWriter, r *http.Request) {
	var f F
	if err := q.api.Decode(r, &f); err != nil {
		q.api.Error(w, err)
		return
	}
	if err := q.Add(f); err != nil {
		q.api.Error(w, err)
		return
	}
	WriteJSON(w, http.StatusCreated, map[string]any{"faults": q.List()})
}

// HandleClear answers DELETE …/faults: it clears the queue and answers {"faults": []}.
func (q *FaultQueue[F]) HandleClear(w http.ResponseWriter, r *http.Request) {
	q.Clear()
	WriteJSON(w, http.StatusOK, map[string]any{"faults": []F{}})
}
