package simkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody bounds the request bodies [API.Decode] reads.
const MaxBody = 1 << 20

// WriteJSON answers v as JSON with the status. HTML characters are not escaped.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ErrorStatus maps errors that match Err (with errors.Is) to an HTTP status.
type ErrorStatus struct {
	Err    error
	Status int
}

// API is the error and body handling of a simulator's JSON control API. It is read-only once
// set up; share one value between the handlers.
type API struct {
	// Invalid is the simulator's "invalid argument" sentinel: Decode and Duration wrap it around
	// the errors they return. Map it to 400 in Errors.
	Invalid error
	// Errors maps errors to statuses; the first entry that matches wins. Errors that match none
	// are answered 500.
	Errors []ErrorStatus
}

// Status returns the HTTP status err is answered with.
func (a *API) Status(err error) int {
	for _, e := range a.Errors {
		if errors.Is(err, e.Err) {
			return e.Status
		}
	}
	return http.StatusInternalServerError
}

// Error answers err as {"error": err.Error()} with the status it maps to.
func (a *API) Error(w http.ResponseWriter, err error) {
	WriteJSON(w, a.Status(err), map[string]string{"error": err.Error()})
}

// Decode decodes an optional JSON body into v: an empty (or blank) body leaves v as it is.
// At most [MaxBody] bytes are read. Errors wrap [API.Invalid].
func (a *API) Decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("%w: %v", a.Invalid, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: bad JSON body: %v", a.Invalid, err)
	}
	return nil
}

// Duration parses a JSON duration: a Go duration string ("1.5s") or a number of
// milliseconds. An absent value or null is 0. Errors wrap [API.Invalid].
func (a *API) Duration(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, fmt.Errorf("%w: %v", a.Invalid, err)
		}
		d, err := time.ParseDuration(strings.TrimSpace(str))
		if err != nil {
			return 0, fmt.Errorf("%w: %v", a.Invalid, err)
		}
		return d, nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: duration must be a string like \"30s\" or milliseconds", a.Invalid)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Resource is a kind of object of a control API (a chat, a conversation) whose actions are
// addressed by the path value "id" and answered with the object's snapshot V.
type Resource[V any] struct {
	API *API
	// Get returns the snapshot of object id, or an error (typically "no such object").
	Get func(id string) (V, error)
}

// Respond answers err if it is not nil, else the snapshot of object id (200).
func (res Resource[V]) Respond(w http.ResponseWriter, id string, err error) {
	if err != nil {
		res.API.Error(w, err)
		return
	}
	v, err := res.Get(id)
	if err != nil {
		res.API.Error(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

// Action returns a handler that runs fn on the object of the path value "id" and responds
// (see [Resource.Respond]).
func (res Resource[V]) Action(fn func(id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		res.Respond(w, id, fn(id))
	}
}

// WithBody returns a handler that decodes the optional JSON body into an In (see
// [API.Decode]), runs fn on it and the object of the path value "id", and responds (see
// [Resource.Respond]).
func WithBody[In, V any](res Resource[V], fn func(id string, in In) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		id := r.PathValue("id")
		if err := res.API.Decode(r, &in); err != nil {
			res.API.Error(w, err)
			return
		}
		res.Respond(w, id, fn(id, in))
	}
}
