package liveagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
)

// captureServer records the last request body and answers 200 OK.
func captureServer(t *testing.T) (*httptest.Server, func() (*http.Request, []byte)) {
	t.Helper()
	var (
		req  *http.Request
		body []byte
	)
	got := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req, body = r.Clone(context.Background()), b
		_, _ = io.WriteString(w, "OK")
		got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv, func() (*http.Request, []byte) {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("no request")
		}
		return req, body
	}
}

// topLevelKeys returns the keys of a JSON object in order.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestChasitorInitSeedBody compares the marshalled ChasitorInit body with the body the original
// Django bridge sent (seed-compat.md §1), as Python's json.dumps wrote it.
func TestChasitorInitSeedBody(t *testing.T) {
	s := liveagent.Session{ID: "3f0c1a52-9b7e-4d2a-8c41-5e6f7a8b9c0d", Key: "3f0c1a52-9b7e-4d2a-8c41-5e6f7a8b9c0d!1!sig=", AffinityToken: "878a1fa0"}
	seedDetail := []liveagent.PrechatDetail{{Label: "ContactLineId", Value: "U4af4980629", DisplayToAgent: true}}
	for _, tc := range []struct {
		golden string
		in     liveagent.ChasitorInit
	}{
		{"chasitorinit_seed.json", liveagent.ChasitorInit{
			VisitorName:    "山田太郎",
			PrechatDetails: seedDetail,
			PrechatEntities: json.RawMessage(`[{"entityName":"Contact","showOnCreate":true,"saveToTranscript":"ContactId",
				"entityFieldsMaps":[{"fieldName":"LineId__c","label":"ContactLineId","doFind":true,"isExactMatch":true,"doCreate":true}]}]`),
		}},
		{"chasitorinit_seed_null_entities.json", liveagent.ChasitorInit{PrechatDetails: seedDetail}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			srv, last := captureServer(t)
			c := liveagent.NewClient(liveagent.Config{Host: srv.URL + "/", OrgID: testOrg, DeploymentID: testDeployment, ButtonID: testButton}, nil)
			if err := c.ChasitorInit(context.Background(), s, 1, tc.in); err != nil {
				t.Fatal(err)
			}
			req, body := last()
			if req.URL.Path != "/chat/rest/Chasitor/ChasitorInit" || req.Header.Get(liveagent.HeaderSequence) != "1" {
				t.Errorf("request %s seq %q", req.URL.Path, req.Header.Get(liveagent.HeaderSequence))
			}
			want := readTestdata(t, tc.golden)
			var gotV, wantV any
			if err := json.Unmarshal(body, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("body differs from the seed's\n got: %s\nwant: %s", body, want)
			}
			if got, want := topLevelKeys(t, body), topLevelKeys(t, want); !slices.Equal(got, want) {
				t.Errorf("key order %v, want the seed's %v", got, want)
			}
		})
	}
}

func TestChasitorInitOptions(t *testing.T) {
	srv, last := captureServer(t)
	c := liveagent.NewClient(liveagent.Config{Host: srv.URL, OrgID: "o", DeploymentID: "d", ButtonID: "b", Language: "en-US", UserAgent: "Bridge/1"}, nil)
	f := false
	err := c.ChasitorInit(context.Background(), liveagent.Session{ID: "i", Key: "i!1!s"}, 7, liveagent.ChasitorInit{
		AgentID: "005x", DoFallback: &f, ButtonOverrides: []string{"005x_b"}, NoQueueUpdates: true, ButtonID: "b2",
	})
	if err != nil {
		t.Fatal(err)
	}
	req, body := last()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"agentId": "005x", "doFallback": false, "receiveQueueUpdates": false, "buttonId": "b2",
		"language": "en-US", "userAgent": "Bridge/1", "prechatEntities": nil,
	} {
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("%s = %#v, want %#v", k, got[k], want)
		}
	}
	if req.Header.Get("User-Agent") != "Bridge/1" || req.Header.Get(liveagent.HeaderAffinity) != "null" {
		t.Errorf("headers %v", req.Header)
	}
	if err := c.ChasitorInit(context.Background(), liveagent.Session{ID: "i"}, 1, liveagent.ChasitorInit{PrechatEntities: json.RawMessage(`{bad`)}); err == nil {
		t.Error("invalid prechatEntities accepted")
	}
}
