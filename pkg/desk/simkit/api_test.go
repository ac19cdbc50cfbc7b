package simkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	errNotFound = errors.New("test: not found")
	errState    = errors.New("test: bad state")
	errInvalid  = errors.New("test: invalid")
)

var testAPI = &API{
	Invalid: errInvalid,
	Errors: []ErrorStatus{
		{Err: errNotFound, Status: http.StatusNotFound},
		{Err: errState, Status: http.StatusConflict},
		{Err: errInvalid, Status: http.StatusBadRequest},
	},
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusCreated, map[string]string{"html": "<b>&</b>"})
	if rec.Code != http.StatusCreated {
		t.Errorf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if got, want := rec.Body.String(), `{"html":"<b>&</b>"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}

func TestAPIStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"sentinel", errNotFound, 404},
		{"wrapped", fmt.Errorf("%w: x", errState), 409},
		{"invalid", fmt.Errorf("%w: bad", errInvalid), 400},
		{"first match wins", errors.Join(errInvalid, errNotFound), 404},
		{"unknown", errors.New("boom"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testAPI.Status(tt.err); got != tt.want {
				t.Errorf("Status(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if got := (&API{}).Status(errNotFound); got != 500 {
		t.Errorf("empty mapping: %d, want 500", got)
	}
}

func TestAPIError(t *testing.T) {
	rec := httptest.NewRecorder()
	testAPI.Error(rec, fmt.Errorf("%w: chat 7", errNotFound))
	if rec.Code != 404 || rec.Body.String() != `{"error":"test: not found: chat 7"}`+"\n" {
		t.Errorf("%d %q", rec.Code, rec.Body)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestAPIDecode(t *testing.T) {
	type in struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name    string
		body    io.Reader
		want    string
		wantErr string
	}{
		{name: "empty", body: strings.NewReader(""), want: "keep"},
		{name: "blank", body: strings.NewReader(" \n\t"), want: "keep"},
		{name: "object", body: strings.NewReader(`{"name":"x"}`), want: "x"},
		{name: "bad JSON", body: strings.NewReader(`{"name":`), wantErr: "test: invalid: bad JSON body: "},
		{name: "wrong type", body: strings.NewReader(`{"name":1}`), wantErr: "test: invalid: bad JSON body: "},
		{name: "too large", body: strings.NewReader(`{"name":"` + strings.Repeat("a", MaxBody) + `"}`), wantErr: "bad JSON body"},
		{name: "read error", body: failingReader{}, wantErr: "test: invalid: connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", tt.body)
			v := in{Name: "keep"}
			err := testAPI.Decode(r, &v)
			if tt.wantErr != "" {
				if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one wrapping errInvalid with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || v.Name != tt.want {
				t.Fatalf("got %q, %v; want %q", v.Name, err, tt.want)
			}
		})
	}
}

func TestAPIDuration(t *testing.T) {
	tests := []struct {
		raw     string
		want    time.Duration
		wantErr bool
	}{
		{raw: "", want: 0},
		{raw: "null", want: 0},
		{raw: " null ", want: 0},
		{raw: `"1.5s"`, want: 1500 * time.Millisecond},
		{raw: `" 200ms "`, want: 200 * time.Millisecond},
		{raw: `"-1s"`, want: -time.Second},
		{raw: `"0s"`, want: 0},
		{raw: "250", want: 250 * time.Millisecond},
		{raw: "1.5", want: 1500 * time.Microsecond},
		{raw: "90000", want: 90 * time.Second},
		{raw: `"soon"`, wantErr: true},
		{raw: `"1s`, wantErr: true},
		{raw: "true", wantErr: true},
		{raw: "{}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := testAPI.Duration(json.RawMessage(tt.raw))
			if tt.wantErr {
				if !errors.Is(err, errInvalid) {
					t.Fatalf("err %v, want errInvalid", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

type item struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

// items is a tiny object store for Resource tests.
type items map[string]*item

func (m items) get(id string) (item, error) {
	it, ok := m[id]
	if !ok {
		return item{}, fmt.Errorf("%w: %s", errNotFound, id)
	}
	return *it, nil
}

func (m items) resource() Resource[item] { return Resource[item]{API: testAPI, Get: m.get} }

// serve calls h on a request with the path value id set.
func serve(h http.HandlerFunc, id, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/items/"+id, strings.NewReader(body))
	r.SetPathValue("id", id)
	rec := httptest.NewRecorder()
	h(rec, r)
	return rec
}

func TestResource(t *testing.T) {
	m := items{"a": {ID: "a", Count: 1}}
	res := m.resource()
	bump := res.Action(func(id string) error {
		it, ok := m[id]
		if !ok {
			return fmt.Errorf("%w: %s", errNotFound, id)
		}
		if it.Count >= 2 {
			return fmt.Errorf("%w: full", errState)
		}
		it.Count++
		return nil
	})
	add := WithBody(res, func(id string, in struct {
		N *int `json:"n"`
	}) error {
		if in.N == nil {
			return fmt.Errorf("%w: n is required", errInvalid)
		}
		m[id].Count += *in.N
		return nil
	})
	tests := []struct {
		name       string
		h          http.HandlerFunc
		id, body   string
		wantStatus int
		wantBody   string
	}{
		{"action", bump, "a", "", 200, `{"id":"a","count":2}`},
		{"action error", bump, "a", "", 409, `{"error":"test: bad state: full"}`},
		{"action unknown", bump, "x", "", 404, `{"error":"test: not found: x"}`},
		{"body", add, "a", `{"n":3}`, 200, `{"id":"a","count":5}`},
		{"body fn error", add, "a", ``, 400, `{"error":"test: invalid: n is required"}`},
		{"bad body", add, "a", `{"n":"3"}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(tt.h, tt.id, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, tt.wantStatus)
			}
			if tt.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("body %s, want %s", rec.Body, tt.wantBody)
			}
		})
	}
	if m["a"].Count != 5 {
		t.Errorf("count %d after a bad body, want 5", m["a"].Count)
	}

	// Respond with a Get error after a successful action (the object went away).
	rec := httptest.NewRecorder()
	res.Respond(rec, "gone", nil)
	if rec.Code != 404 {
		t.Errorf("Respond on a missing object: %d", rec.Code)
	}
}
