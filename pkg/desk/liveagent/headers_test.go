package liveagent_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
)

// TestHeadersPerResource checks the X-LIVEAGENT-* headers of every resource against the
// protocol doc §1 "Per-resource required headers".
func TestHeadersPerResource(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a") // SessionId, ChasitorInit, Messages
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.client.ChatMessage(h.ctx, st.s, st.next(), "x"))
	must(h.client.ChasitorTyping(h.ctx, st.s, st.next()))
	must(h.client.ChasitorNotTyping(h.ctx, st.s, st.next()))
	must(h.sim.InjectFault(lasim.Fault{Kind: "messages", Status: 503}))
	if _, err := h.client.Messages(h.ctx, st.s, st.ack); !errors.Is(err, liveagent.ErrAffinityChanged) {
		t.Fatal(err)
	}
	rc, err := h.client.ReconnectSession(h.ctx, st.s, 0)
	must(err)
	st.s = st.s.WithAffinity(rc.AffinityToken)
	must(h.client.ChasitorResyncState(h.ctx, st.s))
	_, err = h.client.Availability(h.ctx)
	must(err)
	must(h.client.ChatEnd(h.ctx, st.s, st.next(), ""))
	st2 := h.start("b")
	must(h.client.DeleteSession(h.ctx, st2.s))

	const (
		V = liveagent.HeaderAPIVersion
		A = liveagent.HeaderAffinity
		K = liveagent.HeaderSessionKey
		S = liveagent.HeaderSequence
	)
	want := map[string][]string{
		"sessionId":           {A, V},
		"messages":            {A, K, V},
		"reconnectSession":    {A, K, V},
		"chasitorInit":        {A, K, S, V},
		"chatMessage":         {A, K, S, V},
		"chasitorTyping":      {A, K, S, V},
		"chasitorNotTyping":   {A, K, S, V},
		"chatEnd":             {A, K, S, V},
		"chasitorResyncState": {A, K, V},
		"availability":        {V},
		"deleteSession":       {A, V},
	}
	seen := map[string]bool{}
	for _, r := range h.sim.Requests() {
		w, ok := want[r.Kind]
		if !ok {
			continue
		}
		seen[r.Kind] = true
		var got []string
		for name := range r.Header {
			if strings.HasPrefix(strings.ToUpper(name), "X-LIVEAGENT-") {
				got = append(got, strings.ToUpper(name))
			}
		}
		slices.Sort(got)
		w = slices.Sorted(slices.Values(w))
		if !slices.Equal(got, w) {
			t.Errorf("%s %s: X-LIVEAGENT headers %v, want %v", r.Method, r.Kind, got, w)
		}
		if v := r.Header.Get(V); v != "49" {
			t.Errorf("%s: API version %q", r.Kind, v)
		}
		switch r.Kind {
		case "sessionId", "reconnectSession":
			if got := r.Header.Get(A); got != "null" {
				t.Errorf("%s: affinity %q, want the literal null", r.Kind, got)
			}
		case "messages":
			if !strings.HasPrefix(r.Query, "ack=") {
				t.Errorf("messages query %q", r.Query)
			}
		case "chasitorInit", "chatMessage", "chatEnd", "chasitorResyncState":
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", r.Kind, ct)
			}
		}
		if r.Kind == "messages" && r.Query == "ack=-1" {
			seen["ack=-1"] = true
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("no %s request recorded", k)
		}
	}
	if !seen["ack=-1"] {
		t.Error("first poll did not send ack=-1")
	}
	// The SEQUENCE values are the caller's counter.
	var seqs []string
	for _, r := range h.sim.Requests() {
		if r.ChatID == st.s.ID && r.Header.Get(S) != "" {
			seqs = append(seqs, r.Header.Get(S))
		}
	}
	if got := strings.Join(seqs, ","); got != "1,2,3,4,5" {
		t.Errorf("sequences %s, want 1,2,3,4,5", got)
	}
}

func rawRequest(t *testing.T, method, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHeaderValidation(t *testing.T) {
	h := newHarness(t, lasim.Options{})
	st := h.established("a")
	base := h.srv.URL + "/chat/rest/"
	good := func(extra map[string]string) map[string]string {
		m := map[string]string{
			liveagent.HeaderAPIVersion: "49",
			liveagent.HeaderAffinity:   st.s.AffinityToken,
			liveagent.HeaderSessionKey: st.s.Key,
			liveagent.HeaderSequence:   "100",
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	const invalid = "Session required but was invalid or not found"
	for _, tc := range []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		body   string
		status int
		want   string // body prefix
	}{
		{"no version", "POST", "Chasitor/ChatMessage", good(map[string]string{liveagent.HeaderAPIVersion: ""}), `{"text":"x"}`, 400, "No version header found"},
		{"version too old", "POST", "Chasitor/ChatMessage", good(map[string]string{liveagent.HeaderAPIVersion: "28"}), `{"text":"x"}`, 400, "Unsupported"},
		{"version too new", "GET", "System/SessionId", map[string]string{liveagent.HeaderAPIVersion: "68", liveagent.HeaderAffinity: "null"}, "", 400, "Unsupported"},
		{"version 29.0", "GET", "System/SessionId", map[string]string{liveagent.HeaderAPIVersion: "29.0", liveagent.HeaderAffinity: "null"}, "", 200, `{"key":`},
		{"version 67", "GET", "System/SessionId", map[string]string{liveagent.HeaderAPIVersion: "67", liveagent.HeaderAffinity: ""}, "", 200, `{"key":`},
		{"no key", "POST", "Chasitor/ChatMessage", good(map[string]string{liveagent.HeaderSessionKey: ""}), `{"text":"x"}`, 403, invalid},
		{"bad key", "GET", "System/Messages?ack=1", good(map[string]string{liveagent.HeaderSessionKey: "nope!1!x="}), "", 403, invalid},
		{"no affinity", "POST", "Chasitor/ChatMessage", good(map[string]string{liveagent.HeaderAffinity: ""}), `{"text":"x"}`, 403, invalid},
		{"wrong affinity", "GET", "System/Messages?ack=1", good(map[string]string{liveagent.HeaderAffinity: "deadbeef"}), "", 403, invalid},
		{"bad json", "POST", "Chasitor/ChatMessage", good(nil), `{"text":`, 400, `{"message":`},
		{"not an object", "POST", "Chasitor/ChatMessage", good(nil), `"text"`, 400, `{"message":`},
		{"bad sequence", "POST", "Chasitor/ChatMessage", good(map[string]string{liveagent.HeaderSequence: "abc"}), `{"text":"x"}`, 400, "Invalid"},
		{"bad ack", "GET", "System/Messages?ack=x", good(nil), "", 400, "Invalid ack"},
		{"init without ids", "POST", "Chasitor/ChasitorInit", good(nil), `{"visitorName":"x"}`, 400, `{"message":"organizationId is required"`},
		{"wrong method messages", "POST", "System/Messages", good(nil), "", 405, ""},
		{"wrong method chat message", "GET", "Chasitor/ChatMessage", good(nil), "", 405, ""},
		{"wrong method session", "PUT", "System/SessionId", good(nil), "", 405, ""},
		{"unknown noun", "POST", "Chasitor/Nope", good(nil), "{}", 404, ""},
		{"unknown path", "GET", "System/Nope", good(nil), "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawRequest(t, tc.method, base+tc.path, tc.hdr, tc.body)
			if status != tc.status || !strings.HasPrefix(body, tc.want) {
				t.Errorf("%s %s = %d %q, want %d %q…", tc.method, tc.path, status, body, tc.status, tc.want)
			}
		})
	}
	// None of that touched the chat.
	v, _ := h.sim.Chat(st.s.ID)
	if v.Ended() || v.Counters.VisitorMessages != 0 {
		t.Errorf("chat changed by invalid requests: %+v", v)
	}

	// Through the client: a bad API version is a permanent ErrBadRequest.
	bad := liveagent.NewClient(liveagent.Config{Host: h.srv.URL, OrgID: testOrg, DeploymentID: "d", ButtonID: "b", APIVersion: "28"}, nil)
	_, err := bad.SessionID(h.ctx)
	if !errors.Is(err, liveagent.ErrBadRequest) || liveagent.Temporary(err) {
		t.Errorf("old API version: %v", err)
	}
}
